"""nlp's front door: the public names are derived, never copied.

``nlp/__init__.py`` holds one table (``_EXPORTS``: module -> the names it gives ``nlp``), read
by the lazy ``__getattr__``; a ``TYPE_CHECKING`` block imports the same names for type
checkers, and ``__all__`` lists them. These tests derive every list from the table and the
modules themselves, so moving a name is one edit to the table (and its import line), and any
disagreement fails here.
"""

from __future__ import annotations

import ast
import importlib
import types
from pathlib import Path

import pytest

import nlp

TABLE: dict[str, tuple[str, ...]] = nlp._EXPORTS  # type: ignore[attr-defined]
EXPORTED = sorted(name for names in TABLE.values() for name in names)


def _type_checking_imports() -> dict[str, set[str]]:
    """module -> names, as imported in ``if TYPE_CHECKING:`` of nlp/__init__.py."""
    tree = ast.parse(Path(nlp.__file__).read_text(encoding="utf-8"))
    found: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom) and statement.module:
                    found.setdefault(statement.module, set()).update(
                        alias.name for alias in statement.names
                    )
    return found


def test_all_is_the_table() -> None:
    assert sorted(nlp.__all__) == EXPORTED
    assert len(set(EXPORTED)) == len(EXPORTED), "a name is exported by two modules"


def test_all_is_sorted_constants_first() -> None:
    assert nlp.__all__ == sorted(nlp.__all__, key=lambda name: (not name.isupper(), name))


def test_type_checkers_see_the_same_names() -> None:
    assert _type_checking_imports() == {module: set(names) for module, names in TABLE.items()}


@pytest.mark.parametrize("module", sorted(TABLE))
def test_each_module_declares_what_it_gives(module: str) -> None:
    declared = set(importlib.import_module(module).__all__)
    assert set(TABLE[module]) <= declared


@pytest.mark.parametrize("name", EXPORTED)
def test_every_exported_name_is_importable(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from nlp import {name}", namespace)
    assert namespace[name] is getattr(nlp, name)
    module = next(m for m, names in TABLE.items() if name in names)
    assert namespace[name] is getattr(importlib.import_module(module), name)


def test_every_public_name_is_exported() -> None:
    """Nothing public in nlp's namespace escapes __all__ (submodules aside)."""
    for name in nlp.__all__:  # names load on first use; load them all
        getattr(nlp, name)
    public = {
        name
        for name, value in vars(nlp).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(nlp.__all__)


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from nlp import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(EXPORTED)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'tag_frames'"):
        nlp.tag_frames  # type: ignore[attr-defined]  # noqa: B018


@pytest.mark.parametrize(
    ("name", "base"),
    [
        pytest.param("DataError", ValueError, id="DataError"),
        pytest.param("UnsupportedFormatError", ValueError, id="UnsupportedFormatError"),
        pytest.param("ModelNotFoundError", FileNotFoundError, id="ModelNotFoundError"),
        pytest.param("ModelIntegrityError", RuntimeError, id="ModelIntegrityError"),
    ],
)
def test_errors_refine_a_builtin_and_share_one_base(name: str, base: type) -> None:
    error = getattr(nlp, name)
    assert issubclass(error, base)
    assert issubclass(error, nlp.AppealRouterError)


def test_every_error_class_is_one_family_and_declared() -> None:
    """nlp.errors holds every error the library raises on purpose, all AppealRouterErrors."""
    import nlp.errors

    classes = {
        name
        for name, value in vars(nlp.errors).items()
        if isinstance(value, type) and issubclass(value, BaseException)
    }
    assert classes == set(nlp.errors.__all__)
    for name in classes:
        assert issubclass(getattr(nlp.errors, name), nlp.AppealRouterError)
