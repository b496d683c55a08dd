"""Lexicons: what a guide's prose means, per language, loaded from ``lexicons/*.toml``."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from .errors import RunbookError

_TAG_PREFIX_RE = re.compile(r"^\[(?P<tag>[^\]]+)\]\s*")
"""A step's tag before its title: ``[通常] ``."""


@dataclass
class Lexicon:
    """One language's phrases, compiled."""

    language: str
    tags: dict[str, str]
    overview_headings: list[str]
    environment_intro: list[str]
    fields: dict[str, str]
    roles: dict[str, str]
    groups: dict[str, str]
    label_re: re.Pattern[str]
    before: list[str]
    after: list[str]
    path_re: re.Pattern[str]
    sentence_end: re.Pattern[str]
    scope_patterns: list[str]
    case_insensitive: bool
    text: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    label_joiners: list[str] = field(default_factory=list)
    """What joins several host names in one label (``と``, ``、`` / ``and``, ``,``)."""
    append_words: list[str] = field(default_factory=list)
    """Words of a paragraph that says to add the next block's lines to the file it names."""
    label_not_name: re.Pattern[str] | None = None
    """What a host name never holds (Japanese particles): a part with it makes the paragraph a phrase."""

    def label_parts(self, text: str) -> list[str] | None:
        """``パブリッシャーとサブスクライバー：`` -> [パブリッシャー, サブスクライバー]: the names of a
        paragraph that may be a label (a colon optional); None when it cannot be one."""
        body = re.sub(r"\s*[：:]\s*$", "", text.strip())
        if not body or len(body) > 80 or "`" in body or self.sentence_end.search(body + " "):
            return None
        if not self.label_joiners:
            return [body] if len(body) <= 30 and len(body.split()) <= 3 and not self._not_name(body) else None
        joined = "|".join(re.escape(j) for j in sorted(self.label_joiners, key=len, reverse=True))
        parts = [p.strip() for p in re.split(joined, body, flags=re.IGNORECASE if self.case_insensitive else 0)]
        # A name is short: "Standby 1", "スタンバイ1"; a longer part makes this a sentence.
        if not all(p and len(p) <= 30 and len(p.split()) <= 3 for p in parts):
            return None
        if any(self._not_name(p) for p in parts):
            return None
        return parts

    def _not_name(self, text: str) -> bool:
        return self.label_not_name is not None and self.label_not_name.search(text) is not None

    def says_append(self, text: str) -> bool:
        """The paragraph says to add lines to a file (``追記します`` / ``add``)."""
        t = self.norm(text)
        if self.case_insensitive:
            return any(re.search(rf"\b{re.escape(self.norm(w))}\b", t) for w in self.append_words)
        return any(w in t for w in self.append_words)

    def split_tag(self, text: str) -> tuple[str | None, str]:
        """``[通常] タイトル`` -> (normal, タイトル); ``[?] x`` -> (None, x); ``x`` -> (None, x)."""
        m = _TAG_PREFIX_RE.match(text)
        if m is None:
            return None, text
        return self.tags.get(m.group("tag")), text[m.end():]

    def tag_for(self, word: str) -> str | None:
        return self.tags.get(word)

    def tag_word(self, tag: str) -> str:
        for word, value in self.tags.items():
            if value == tag:
                return word
        raise KeyError(tag)

    def norm(self, text: str) -> str:
        return text.casefold() if self.case_insensitive else text

    def is_overview_heading(self, text: str) -> bool:
        """``概要`` / ``Summary``: the heading of the overview list."""
        return self.norm(text) in self._overview_headings

    @cached_property
    def _overview_headings(self) -> frozenset[str]:
        return frozenset(self.norm(h) for h in self.overview_headings)

    def is_environment_intro(self, text: str) -> bool:
        """The paragraph introducing the environment list (``このドキュメントでは次の環境を使います``)."""
        return text.startswith(tuple(self.environment_intro))

    def host_role(self, label: str) -> tuple[str, int | None, str] | None:
        """``スタンバイ1`` -> (standby, 1, スタンバイ); ``Primary`` -> (primary, None, Primary); else None."""
        m = re.match(r"^(?P<name>.*?)\s*(?P<num>\d+)?$", label.strip())
        if not m:
            return None
        name = self.norm(m.group("name"))
        for word, role in self.roles.items():
            if self.norm(word) == name:
                num = m.group("num")
                return role, int(num) if num else None, word
        return None

    def is_marker(self, text: str, which: str) -> bool:
        """``変更前：`` / ``Before:`` (the colon optional)."""
        return self.marker(text) == which

    def marker(self, text: str) -> Literal["before", "after"] | None:
        """``before`` for ``変更前：`` / ``Before:``, ``after`` for ``変更後：`` / ``After:`` (colon optional)."""
        return self._markers.get(self.norm(text.strip().rstrip(":：").strip()))

    @cached_property
    def _markers(self) -> dict[str, Literal["before", "after"]]:
        found: dict[str, Literal["before", "after"]] = {self.norm(w): "after" for w in self.after}
        found.update({self.norm(w): "before" for w in self.before})
        return found


def _compile(data: dict[str, Any], source: str) -> Lexicon:
    try:
        return Lexicon(
            language=data["language"],
            tags=dict(data["tags"]),
            overview_headings=list(data["overview"]["headings"]),
            environment_intro=list(data["environment"]["intro"]),
            fields=dict(data["environment"]["fields"]),
            roles=dict(data["roles"]),
            groups=dict(data.get("groups", {})),
            label_re=re.compile(data["labels"]["pattern"]),
            before=list(data["edit"]["before"]),
            after=list(data["edit"]["after"]),
            path_re=re.compile(data["edit"]["path"]),
            sentence_end=re.compile(data["scope"]["sentence_end"]),
            scope_patterns=list(data["scope"]["patterns"]),
            case_insensitive=bool(data["scope"].get("case_insensitive", False)),
            text=dict(data.get("text", {})),
            raw=data,
            label_joiners=list(data["labels"].get("joiners", [])),
            append_words=list(data["edit"].get("append", [])),
            label_not_name=re.compile(data["labels"]["not_name"]) if data["labels"].get("not_name") else None,
        )
    except (KeyError, TypeError, re.error) as exc:
        raise RunbookError(f"{source}: lexicon is incomplete or invalid: {exc!r}") from exc


@cache
def load(language: str) -> Lexicon:
    """The shipped lexicon for ``language`` (``ja``, ``en``)."""
    name = f"{language}.toml"
    ref = resources.files("runbook") / "lexicons" / name
    if not ref.is_file():
        raise RunbookError(f"no lexicon for language {language!r} (have: {', '.join(available())})")
    return _compile(tomllib.loads(ref.read_text(encoding="utf-8")), name)


def load_file(path: Path) -> Lexicon:
    try:
        return _compile(tomllib.loads(path.read_text(encoding="utf-8")), str(path))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RunbookError(f"{path}: cannot read lexicon: {exc}") from exc


@cache
def available() -> list[str]:
    folder = resources.files("runbook") / "lexicons"
    return sorted(
        p.name.removesuffix(".toml")
        for p in folder.iterdir()
        if p.name.endswith(".toml") and p.name != "common.toml"
    )


@cache
def common() -> dict[str, Any]:
    ref = resources.files("runbook") / "lexicons" / "common.toml"
    return tomllib.loads(ref.read_text(encoding="utf-8"))


_NAME_LANG_RE = re.compile(r"\.(?P<lang>[a-z]{2})\.(?:md|markdown)$")


_PROSE_ONLY_RE = re.compile(r"^(`{3,}|~{3,})[^\n]*\n.*?^\1[ \t]*$|`[^`\n]*`", re.MULTILINE | re.DOTALL)
"""Fenced code blocks and inline code: an English page may show Japanese example data in them."""


JAPANESE_SHARE = 0.15
"""Japanese characters make up at least this share of a Japanese page's letters, code left out (ja
pages of PGroonga's site: 0.5 and more; English pages that quote a Japanese word: below 0.05)."""


def detect_language(text: str, name: str | None = None) -> str:
    """The language a file name says (``guide.en.md``) when a lexicon exists for it; else ``ja`` when
    Japanese script makes up :data:`JAPANESE_SHARE` of the letters of its prose (code left out), else
    ``en``.  An English page exported without a PO catalog keeps untranslated Japanese prose, so the
    name comes first."""
    m = _NAME_LANG_RE.search(name or "")
    if m and m.group("lang") in available():
        return m.group("lang")
    prose = _PROSE_ONLY_RE.sub("", text)
    japanese = len(re.findall(r"[\u3040-\u30ff\u4e00-\u9fff]", prose))
    latin = len(re.findall(r"[A-Za-z]", prose))
    return "ja" if japanese and japanese >= JAPANESE_SHARE * (japanese + latin) else "en"


LANGUAGE_NAMES = {"en": "English", "ja": "Japanese", "fr": "French", "de": "German", "es": "Spanish",
                  "it": "Italian", "pt": "Portuguese", "nl": "Dutch", "zh": "Chinese", "ko": "Korean",
                  "ru": "Russian"}

_STOPWORDS = {
    "en": "the and to of is are this that with on for you your",
    "fr": "le la les des est et une un sur pour dans vous avec du que",
    "de": "der die das und ist nicht mit auf für ein eine sie den dem",
    "es": "el los las del es y una un para con que por en se",
    "it": "il gli della è e una un per con che sono non nel",
    "pt": "o os das dos é e uma um para com que não em",
    "nl": "de het een en van is op voor met niet zijn dat",
}
"""A few frequent words of languages written in Latin script (which of them a page's prose is in)."""

_FRONT_LANG_RE = re.compile(r"\A---\n(?:.*\n)*?lang:\s*['\"]?(?P<lang>[A-Za-z_-]+)['\"]?\s*\n(?:.*\n)*?---\n")


def _latin_language(prose: str) -> str:
    words = re.findall(r"[a-zàâçéèêëîïôûùüÿñæœäößáíóú]+", prose.lower())
    sets = {lang: set(ws.split()) for lang, ws in _STOPWORDS.items()}
    scores = {lang: sum(w in s for w in words) for lang, s in sets.items()}
    best = max(scores, key=lambda k: scores[k])
    return best if scores[best] > 1.5 * scores["en"] and scores[best] >= 5 else "en"


def text_language(text: str) -> str:
    """The language a page's prose is written in, by its script and frequent words (code left out):
    ``ja``, ``en``, or another language's code (which may have no lexicon)."""
    prose = _PROSE_ONLY_RE.sub("", text)
    japanese = len(re.findall(r"[\u3040-\u30ff\u4e00-\u9fff]", prose))
    latin = len(re.findall(r"[A-Za-z]", prose))
    if japanese and japanese >= JAPANESE_SHARE * (japanese + latin):
        return "ja"
    if len(re.findall(r"[\uac00-\ud7af]", prose)) > latin:
        return "ko"
    if len(re.findall(r"[\u0400-\u04ff]", prose)) > latin:
        return "ru"
    return _latin_language(prose)


def choose_language(text: str, name: str | None = None, given: str | None = None) -> tuple[str, str]:
    """The lexicon a guide is read with and why: ``--lang``, the file name (``guide.en.md``), the
    ``lang`` of its front matter, or its text.  A guide in a language without a lexicon raises
    :class:`GuideError` naming the languages there are (never a silent misreading)."""
    from .errors import GuideError
    from .kinds import Severity
    from .model import Finding, Span

    if given:
        return given, "--lang"
    m = _NAME_LANG_RE.search(name or "")
    m = m if m and (m.group("lang") in available() or m.group("lang") in LANGUAGE_NAMES) else None
    front = _FRONT_LANG_RE.match(text.replace("\r\n", "\n"))
    if m:
        lang, why = m.group("lang"), f"file name .{m.group('lang')}.md"
    elif front:
        lang, why = front.group("lang").lower().split("-")[0].split("_")[0], f"front matter lang: {front.group('lang')}"
    else:
        lang = text_language(text)
        why = f"its text reads as {LANGUAGE_NAMES.get(lang, lang)}"
    if lang in available():
        return lang, why
    msg = (f"no lexicon for {LANGUAGE_NAMES.get(lang, lang)} ({lang!r}, from the {why}): runbook reads guides in "
           f"{', '.join(f'{LANGUAGE_NAMES.get(x, x)} ({x})' for x in available())}; give --lang to read it as one of "
           "them anyway")
    if why.startswith("its text"):
        msg = msg.replace(f"from the {why}", "its text reads so")
    raise GuideError(msg, [Finding("no-lexicon", Severity.ERROR, msg, Span(name or "guide.md", 1, 1))])
