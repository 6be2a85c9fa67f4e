"""Batch tagging of ticket files: streamed in chunks, resumable, on any engine.

- :mod:`nlp.tagging.frame`: ``tag_frame(frame, model)``, the one function every engine,
  the API's batch endpoint and the notebooks call to tag rows.
- :mod:`nlp.tagging.run`: ``tag_file``, the run from input file to output file.
- :mod:`nlp.tagging.runstate`: the work folder, its journal and resuming.
- :mod:`nlp.tagging.output`: tagged chunks as Arrow, the output assembled from them.
- :mod:`nlp.tagging.progress`: progress bar or log lines.

Files are read by :mod:`nlp.io`. The public names are ``nlp``'s (``nlp.tag_file``,
``nlp.tag_frame``, ...) or their modules'. This package imports nothing itself:
:mod:`nlp.engines` imports :mod:`nlp.tagging.frame` while :mod:`nlp.tagging.run` imports the
engines, so importing the package must not import ``run``.
"""
