"""What analysts ask of tickets and models, as functions: the notebooks are their clients.

- :mod:`nlp.analysis.explore`: a dataset before training (sampling, class balance, lengths,
  distinctive words, duplicates, personal data found).
- :mod:`nlp.analysis.review`: tickets a person should look at (the model's wrong and unsure
  answers, probable label errors) and the queue handed to dispatchers.
- :mod:`nlp.analysis.labelling`: the stored tickets most worth a dispatcher's label next.
- :mod:`nlp.analysis.hotspots`: a hot-spot report taken apart (tickets per day of each top
  group, the parts of its heat index, one group's tickets).
- :mod:`nlp.analysis.monitor`: the service's answers per day and model version against the
  training distribution, and alert lines when they drift.
- :mod:`nlp.analysis.plots`: their figures, with Chinese labels that render (matplotlib is
  imported on the first figure, not here).

Comparing a candidate model with the one in service lives beside the registry
(:mod:`nlp.promotion`); scoring a model on labelled rows beside its evaluation
(:mod:`nlp.evaluate`).
"""

from nlp.analysis.explore import (
    class_balance,
    distinctive_terms,
    find_duplicates,
    length_stats,
    personal_data_counts,
    sample_frame,
    split_by_column,
)
from nlp.analysis.hotspots import heat_breakdown, hotspot_tickets, hotspot_timeline
from nlp.analysis.labelling import label_queue
from nlp.analysis.monitor import daily_summary, drift_alerts, training_distribution
from nlp.analysis.review import (
    export_review_queue,
    highlight_terms,
    probable_label_errors,
    review_html,
    review_queue,
)

__all__ = [
    "class_balance",
    "daily_summary",
    "distinctive_terms",
    "drift_alerts",
    "export_review_queue",
    "find_duplicates",
    "heat_breakdown",
    "highlight_terms",
    "hotspot_tickets",
    "hotspot_timeline",
    "label_queue",
    "length_stats",
    "personal_data_counts",
    "probable_label_errors",
    "review_html",
    "review_queue",
    "sample_frame",
    "split_by_column",
    "training_distribution",
]
