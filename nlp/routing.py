"""Who handles it: a routing table from a label (and the place, and words of the ticket) to a
lead unit (主办) and assisting units (协办).

A dispatch centre does not route to a category: it sends a ticket to a lead unit and to units
that assist, in the right district and street. :class:`RoutingTable` reads that mapping from a
TOML file, checks it whole when it is loaded, and answers :meth:`RoutingTable.route` with a
:class:`Dispatch`.

The file (``data/demo/routing.toml`` is an example for the demo's 14 departments,
``data/demo/routing_teddy.toml`` one for the seven Teddy Cup categories)::

    # every unit a rule may name; a typo in a rule is then an error, not a ticket sent nowhere
    units = ["市城管执法局", "东湖区城管执法大队", "市消防救援支队"]

    [[rule]]                        # the label's default rule
    label = "城管执法"
    lead = "市城管执法局"
    assist = ["{street}办事处"]      # the street office of the place (from the Location)

    [[rule]]                        # narrowed by place: district, and optionally street
    label = "城管执法"
    district = "东湖区"
    lead = "东湖区城管执法大队"
    assist = ["{street}办事处", "{community}居委会"]

    [[rule]]                        # narrowed by words of the ticket (any one of them)
    label = "燃气"
    keywords = ["泄漏", "煤气味"]
    lead = "市燃气集团抢修中心"
    assist = ["市消防救援支队"]

    [[rule]]                        # a lead that is the place's own office needs a fallback
    label = "街道社区/物业"
    lead = "{street}办事处"
    fallback = "市住建局物业科"

Keys of a rule: ``label`` (required, one of the model's labels), ``lead`` (required),
``assist`` (list, may be empty), ``district``, ``street``, ``keywords`` (list), ``fallback``
(required when ``lead`` has a placeholder), ``note`` (free text). Units are names from
``units`` or templates with the placeholders ``{district}``, ``{street}``, ``{community}``,
``{grid}`` and ``{place}``, filled from the ticket's :class:`~nlp.location.Location`. An assisting
unit whose placeholder the location cannot fill is left out (and listed in ``unresolved``); a
lead that cannot be filled is the rule's ``fallback``.

Which rule wins: among the rules for the label whose conditions all hold (district and street
equal to the location's; at least one keyword in the ticket's normal form, see
:func:`nlp.text.normalise`), the most specific, compared in this order: a rule with keywords
before one without (the kind of problem overrides the usual office, as a gas leak goes to the
emergency crew in every district), then a street before a district before no place; among
equals, the one earlier in the file. A label with no rule that applies gets an empty dispatch
(``lead`` None), which the caller should hand to a person.

Refused at load, with the file's line of the rule (:class:`~nlp.errors.DataError`): TOML that
does not parse, an unknown key, a label not among ``labels``, an empty or undeclared unit, a
bad placeholder (unknown name, unbalanced braces), a lead with a placeholder and no fallback,
a street or district the gazetteer does not know (when one is given), and two rules for the
same label and place whose keywords are the same or overlap (a duplicate, or a conflict that
file order would settle silently).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nlp.errors import DataError
from nlp.text import fold_width, normalise, to_simplified

if TYPE_CHECKING:
    from nlp.location import Gazetteer, Location

__all__ = ["PLACEHOLDER_FIELDS", "Dispatch", "RoutingTable", "Unit"]

#: The placeholders a unit may contain, filled from the ticket's Location.
PLACEHOLDER_FIELDS = ("district", "street", "community", "grid", "place")

_RULE_KEYS = frozenset(
    {"label", "lead", "assist", "district", "street", "keywords", "fallback", "note"}
)
_TOP_KEYS = frozenset({"units", "rule"})
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_RULE_HEADER = re.compile(r"^\s*\[\[\s*rule\s*\]\]\s*(?:#.*)?$")


@dataclass(frozen=True, slots=True)
class Unit:
    """A unit a ticket goes to: its name, its role (主办 lead, 协办 assist), and the table's
    template it was filled from (equal to ``unit`` when there was no placeholder)."""

    unit: str
    role: str
    template: str

    def to_dict(self) -> dict[str, str]:
        return {"unit": self.unit, "role": self.role, "template": self.template}


@dataclass(frozen=True, slots=True)
class Dispatch:
    """The answer of :meth:`RoutingTable.route`: ``lead`` (None when no rule applies),
    ``assist``, ``rule`` (which row decided, for people reading the answer), and the
    templates the ticket's location could not fill."""

    lead: Unit | None
    assist: tuple[Unit, ...] = ()
    rule: str = ""
    unresolved: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "lead": self.lead.to_dict() if self.lead else None,
            "assist": [unit.to_dict() for unit in self.assist],
            "rule": self.rule,
            "unresolved": list(self.unresolved),
        }


@dataclass(frozen=True, slots=True)
class _Rule:
    line: int
    label: str
    lead: str
    assist: tuple[str, ...]
    district: str
    street: str
    keywords: tuple[str, ...]
    fallback: str
    note: str

    @property
    def specificity(self) -> tuple[int, int]:
        place = 2 if self.street else 1 if self.district else 0
        return (1 if self.keywords else 0, place)

    def describe(self) -> str:
        parts = [self.label]
        if self.district or self.street:
            parts.append("in " + "".join(filter(None, (self.district, self.street))))
        if self.keywords:
            parts.append("with " + "|".join(self.keywords))
        return f"line {self.line}: " + " ".join(parts)


def _fold(value: str) -> str:
    return to_simplified(fold_width(value)).strip()


@dataclass(frozen=True, slots=True, eq=False)
class RoutingTable:
    """A checked routing table. Build it with :meth:`load` (a file) or :meth:`from_text`."""

    rules: tuple[_Rule, ...]
    units: frozenset[str]
    source: str = "routing table"
    #: The labels that have a rule with keywords: only their tickets' text is normalised
    #: (normalising costs more than the rest of a route).
    keyword_labels: frozenset[str] = frozenset()

    def __len__(self) -> int:
        return len(self.rules)

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        labels: Iterable[str],
        gazetteer: Gazetteer | None = None,
    ) -> RoutingTable:
        """Read and check a routing table (see the module's documentation for the format).
        ``labels`` are the labels the model can give; with ``gazetteer``, the districts and
        streets of rules must be the gazetteer's."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError as error:
            raise DataError(f"{path}: no such routing table") from error
        except UnicodeDecodeError as error:
            raise DataError(f"{path}: not UTF-8 text ({error.reason}); save it as UTF-8") from error
        return cls.from_text(text, labels=labels, gazetteer=gazetteer, source=str(path))

    @classmethod
    def from_text(
        cls,
        text: str,
        *,
        labels: Iterable[str],
        gazetteer: Gazetteer | None = None,
        source: str = "routing table",
    ) -> RoutingTable:
        """:meth:`load` on the file's text."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise DataError(f"{source}: not valid TOML: {error}") from error
        unknown = sorted(set(data) - _TOP_KEYS)
        if unknown:
            raise DataError(
                f"{source}: unknown top-level key(s) {', '.join(unknown)}; "
                "a routing table has units = [...] and [[rule]] tables"
            )
        raw_units = data.get("units")
        if not isinstance(raw_units, list) or not raw_units:
            raise DataError(f'{source}: give units = ["...", ...], every unit the rules name')
        units: set[str] = set()
        for unit in raw_units:
            if not isinstance(unit, str) or not _fold(unit):
                raise DataError(f"{source}: units holds {unit!r}; every unit is a non-empty name")
            if _PLACEHOLDER.search(unit) or "{" in unit or "}" in unit:
                raise DataError(
                    f"{source}: units holds {unit!r}; placeholders belong in rules, not in units"
                )
            units.add(_fold(unit))
        raw_rules = data.get("rule")
        if not isinstance(raw_rules, list) or not raw_rules:
            raise DataError(f"{source}: no [[rule]] tables; a routing table needs at least one")
        lines = [
            number for number, line in enumerate(text.splitlines(), 1) if _RULE_HEADER.match(line)
        ]
        if len(lines) != len(raw_rules):  # rules written inline: number them instead
            lines = []
        allowed = frozenset(labels)
        places = _gazetteer_places(gazetteer) if gazetteer is not None else None
        rules: list[_Rule] = []
        for index, raw in enumerate(raw_rules):
            where = f"{source} line {lines[index]}" if lines else f"{source} rule {index + 1}"
            rule = _parse_rule(
                raw,
                where,
                line=lines[index] if lines else index + 1,
                labels=allowed,
                units=units,
                places=places,
            )
            for other in rules:
                _check_pair(other, rule, where)
            rules.append(rule)
        keyword_labels = frozenset(rule.label for rule in rules if rule.keywords)
        return cls(tuple(rules), frozenset(units), source, keyword_labels)

    # ------------------------------------------------------------------ routing
    def route(
        self,
        label: str,
        *,
        location: Location | None = None,
        text: str | None = None,
        normal: str | None = None,
    ) -> Dispatch:
        """The lead and assisting units for a ticket with ``label``, at ``location``, whose
        words are ``text`` (title and body, as sent). ``normal``: ``text``'s normal form
        (:func:`nlp.text.normalise`) when the caller has it, so that it is not normalised
        again. Never raises for a label the table does not know: the dispatch is then
        empty."""
        if not text or label not in self.keyword_labels:
            normal = ""
        elif normal is None:
            normal = normalise(text)
        district = location.district if location else ""
        street = location.street if location else ""
        best: _Rule | None = None
        for rule in self.rules:
            if rule.label != label:
                continue
            if rule.district and rule.district != district:
                continue
            if rule.street and rule.street != street:
                continue
            if rule.keywords and not any(keyword in normal for keyword in rule.keywords):
                continue
            if best is None or rule.specificity > best.specificity:
                best = rule
        if best is None:
            return Dispatch(None, (), f"no rule for {label!r}")
        values = _values(location)
        unresolved: list[str] = []
        lead_name = _fill(best.lead, values)
        if lead_name is None:
            unresolved.append(best.lead)
            lead = Unit(best.fallback, "主办", best.fallback)
        else:
            lead = Unit(lead_name, "主办", best.lead)
        assist: list[Unit] = []
        seen = {lead.unit}
        for template in best.assist:
            name = _fill(template, values)
            if name is None:
                unresolved.append(template)
            elif name not in seen:
                seen.add(name)
                assist.append(Unit(name, "协办", template))
        return Dispatch(lead, tuple(assist), best.describe(), tuple(unresolved))


def _values(location: Location | None) -> Mapping[str, str]:
    if location is None:
        return {}
    return {name: getattr(location, name) for name in PLACEHOLDER_FIELDS}


def _fill(template: str, values: Mapping[str, str]) -> str | None:
    """``template`` with its placeholders filled, or None when one has no value."""
    missing = False

    def one(match: re.Match[str]) -> str:
        nonlocal missing
        value = values.get(match[1], "")
        missing = missing or not value
        return value

    filled = _PLACEHOLDER.sub(one, template)
    return None if missing else filled


def _gazetteer_places(gazetteer: Gazetteer) -> tuple[set[str], set[tuple[str, str]]]:
    districts = {place.district for place in gazetteer.places}
    streets = {(place.district, place.street) for place in gazetteer.places}
    return districts, streets


def _text(raw: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> str:
    value = raw.get(key, "")
    if not isinstance(value, str):
        raise DataError(f"{where}: {key} must be a string, not {value!r}")
    value = _fold(value)
    if required and not value:
        raise DataError(f"{where}: {key} is empty; every rule needs a {key}")
    return value


def _texts(raw: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    if isinstance(value, str) or not isinstance(value, list):
        raise DataError(f'{where}: {key} must be a list of strings, e.g. {key} = ["..."]')
    found: list[str] = []
    for item in value:
        if not isinstance(item, str) or not _fold(item):
            raise DataError(f"{where}: {key} holds {item!r}; give non-empty strings")
        if _fold(item) in found:
            raise DataError(f"{where}: {key} lists {item!r} twice")
        found.append(_fold(item))
    return tuple(found)


def _check_unit(unit: str, where: str, what: str, units: set[str]) -> bool:
    """Whether ``unit`` is a template; raises when it is neither a template nor declared."""
    names = _PLACEHOLDER.findall(unit)
    stripped = _PLACEHOLDER.sub("", unit)
    if "{" in stripped or "}" in stripped:
        raise DataError(f"{where}: {what} {unit!r} has an unbalanced brace")
    for name in names:
        if name not in PLACEHOLDER_FIELDS:
            raise DataError(
                f"{where}: {what} {unit!r} has the placeholder {{{name}}}; "
                f"use one of {', '.join('{' + field + '}' for field in PLACEHOLDER_FIELDS)}"
            )
    if names:
        return True
    if unit not in units:
        raise DataError(
            f"{where}: {what} {unit!r} is not in units; add it there or correct the name"
        )
    return False


def _parse_rule(
    raw: Any,
    where: str,
    *,
    line: int,
    labels: frozenset[str],
    units: set[str],
    places: tuple[set[str], set[tuple[str, str]]] | None,
) -> _Rule:
    if not isinstance(raw, dict):
        raise DataError(f"{where}: a rule is a table of keys")
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        raise DataError(
            f"{where}: unknown key(s) {', '.join(unknown)}; "
            f"a rule has {', '.join(sorted(_RULE_KEYS))}"
        )
    label = _text(raw, "label", where, required=True)
    if label not in labels:
        raise DataError(
            f"{where}: unknown label {label!r}; the model's labels are {', '.join(sorted(labels))}"
        )
    lead = _text(raw, "lead", where, required=True)
    fallback = _text(raw, "fallback", where)
    if _check_unit(lead, where, "lead", units) and not fallback:
        raise DataError(
            f'{where}: lead {lead!r} is filled from the ticket\'s place; add fallback = "..." '
            "for tickets whose place is not known"
        )
    if fallback and _check_unit(fallback, where, "fallback", units):
        raise DataError(f"{where}: fallback {fallback!r} may not have a placeholder")
    assist = _texts(raw, "assist", where)
    for unit in assist:
        _check_unit(unit, where, "assisting unit", units)
    if lead in assist:
        raise DataError(f"{where}: {lead!r} is both the lead and an assisting unit")
    district = _text(raw, "district", where)
    street = _text(raw, "street", where)
    if places is not None:
        districts, streets = places
        if district and district not in districts:
            raise DataError(f"{where}: district {district!r} is not in the gazetteer")
        if street and not any(
            name == street and (not district or seat == district) for seat, name in streets
        ):
            raise DataError(
                f"{where}: street {street!r} is not in the gazetteer"
                + (f" under {district}" if district else "")
            )
    note = raw.get("note", "")
    if not isinstance(note, str):
        raise DataError(f"{where}: note must be a string")
    return _Rule(
        line, label, lead, assist, district, street, _texts(raw, "keywords", where), fallback, note
    )


def _check_pair(earlier: _Rule, rule: _Rule, where: str) -> None:
    """Two rules that would both decide the same tickets at the same specificity."""
    if (earlier.label, earlier.district, earlier.street) != (
        rule.label,
        rule.district,
        rule.street,
    ):
        return
    if not earlier.keywords and not rule.keywords:
        raise DataError(
            f"{where}: a second rule for {rule.label!r}"
            + (f" in {rule.district}{rule.street}" if rule.district or rule.street else "")
            + f" (the first is on line {earlier.line}); merge them"
        )
    shared = sorted(set(earlier.keywords) & set(rule.keywords))
    if shared:
        raise DataError(
            f"{where}: keyword(s) {', '.join(shared)} already route {rule.label!r} on line "
            f"{earlier.line} for the same place; a ticket would match both: keep one"
        )
