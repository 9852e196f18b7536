"""quotes.py chooses what the extractive answer quotes: the passage sentences (or one list) that answer
the question's type (MedQuAD's qtypes: information, symptoms, causes, treatment, ...), none twice, no
boilerplate or crisis number, stopping at a readable length. Text and vectors only; the Gate verifies.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from medgemma.chat.citations import content_words, same_sentence
from medgemma.chat.provenance import has_crisis_number
from medgemma.knowledge.bullets import blocks, sentences
from medgemma.types import Hit

Embed = Callable[[Sequence[str]], np.ndarray]

# question words -> MedQuAD qtype; the first pattern that matches wins (order matters)
QTYPES: tuple[tuple[str, str], ...] = (
    ("inheritance", r"\binherit|\bhereditar|\bpassed (?:down|on)|\brun in (?:the )?famil"),
    ("genetic changes", r"\bgenetic changes?\b|\bgenes? (?:related|involved|cause)|\bmutation"),
    ("frequency", r"\bhow (?:many|common)|\bhow often does|\bprevalen|\bfrequen"),
    ("symptoms", r"\bsymptom|\bsigns?\b|\bhow do (?:i|you) know if|\bwhat does .* feel like"),
    ("exams and tests", r"\bdiagnos|\btest(?:s|ed|ing)?\b|\bexam|\bscreen"),
    ("prevention", r"\bprevent|\bavoid|\breduce (?:the |my )?risk|\bprotect"),
    ("susceptibility", r"\bwho (?:is|gets|are) (?:at risk|likely)|\brisk factor|\bat risk\b"),
    ("treatment", r"\btreat|\bcure|\btherap|\bmedicat|\bmanag|\bsurgery|\bwhat to do for|\bhelp with"),
    ("causes", r"\bcause|\bwhy do|\bwhat makes|\breason for"),
    ("outlook", r"\boutlook|\bprognos|\blife expectancy|\bsurviv|\bwill (?:i|it) get better"),
    ("complications", r"\bcomplication"),
    ("stages", r"\bstages?\b"),
    ("research", r"\bresearch|\bclinical trial|\bstud(?:y|ies)"),
    ("information", r"\bwhat (?:is|are)\b|\bdefin|\bmean(?:s|ing)?\b|\btell me about|\bexplain"),
)
# sentence cues for each qtype: a quote that names what was asked reads like an answer
CUES: dict[str, str] = {
    "symptoms": r"symptom|signs?\b|include|experience|feel|pain|may have|develop",
    "causes": r"caus|result(?:s|ed)? from|due to|mutation|trigger|lead to|because",
    "treatment": r"treat|therap|medic|drug|surgery|manag|relie|control",
    "prevention": r"prevent|avoid|reduc|lower (?:the|your) risk|protect|vaccin",
    "outlook": r"outlook|prognos|life expectancy|surviv|recover|most people",
    "inheritance": r"inherit|autosomal|X-linked|pattern|parent|copies|one copy|recessive|dominant",
    "genetic changes": r"gene|mutation|variant|chromosom",
    "frequency": r"\d|affects|common|rare|estimated|prevalen|per\b|in every",
    "exams and tests": r"diagnos|test|exam|scan|biopsy|imaging|blood",
    "susceptibility": r"risk|more likely|people who|older|family history",
    "complications": r"complication|lead to|can cause|damage",
    "stages": r"stage",
    "research": r"research|trial|stud|scientist",
}
DEFINITION = re.compile(
    r"^[A-Z][^.;:]{0,80}?\b(?:is|are|refers to|describes)\s+(?:a|an|the|one|any|rare|common|"
    r"inherited|genetic|group|type|form|condition|disorder|disease|term|chronic|serious)\b"
)
BOILERPLATE = re.compile(
    r"has (?:more )?information (?:about|on)|more information|these resources|see the .{0,60}page|"
    r"^see\b|check out|click here|key words|\bvisit\b|\bcontact\b|\bphone\b|\bfax\b|\be-?mail\b|www\.|"
    r"https?://|\.gov\b|\.org\b|\bwebsite\b|\bweb site\b|^source:|medlineplus|genereviews|"
    r"orphanet|clinicaltrials|genetic testing registry|human phenotype ontology|the table below|"
    r"you can use the|to find (?:out|a)|is listed|this resource|diagnostic tests$|^(?:drug therapy|"
    r"surgery and rehabilitation|genetic counseling|palliative care)$|what are the signs and symptoms of|"
    r"^(?:what|how|who|is|are|can|does)\b[^.]*\?$|watch the video|\bvideo\b|frequency of a sign or symptom|"
    r"rough estimate of the percentage|sign or symptom may be rare or common|approximate number of patients",
    re.I,
)
# A page heading glued to the sentence after it ("Risk Factors These risk factors ..."): MedQuAD lost the breaks.
_HEADING = re.compile(
    r"^(?:[A-Z][\w'’,()/-]*\s+){1,7}?(?=(?:These|This|The|A|An|If|In|Most|Many|Some|People|You|Your|It|"
    r"There|When|Although|Because|Researchers|Scientists|Doctors|Sometime|Early|Often|Normally)\s+[a-z])"
)
_PRONOUN = re.compile(r"^(?:it|its|this|these|they|their|those|such|he|she|both|however|but|also)\b", re.I)
MAX_WORDS = 90  # a few sentences, or one list
MAX_LIST_WORDS = 130
MAX_ITEMS = 12


def question_type(question: str, qtype: str = "") -> str:
    """The MedQuAD qtype of a question: the given one, else inferred from its words ('information'
    when nothing more specific matches)."""
    if qtype:
        return qtype
    low = question.lower()
    return next((name for name, pattern in QTYPES if re.search(pattern, low)), "information")


@dataclass(frozen=True)
class Unit:
    """A quotable piece of one passage: a sentence, or a list (lead-in + items), in reading order."""

    n: int  # passage number [n]
    pos: int  # position in the passage
    text: str  # as shown: a sentence, or "lead\n- item\n- item"
    words: int

    @property
    def is_list(self) -> bool:
        return self.text.startswith("- ") or "\n- " in self.text


_PERCENT = re.compile(r"\b\d+(?:\.\d+)?%")


def table_row(flat: str) -> bool:
    """GARD's symptom-frequency table flattened into text ("50% Paresthesia 50% Pulmonary fibrosis 7.5%
    ..."): four or more percentages, one for every 5 words or fewer."""
    n = len(_PERCENT.findall(flat))
    return n >= 4 and n * 5 >= len(flat.split())


def quotable(text: str) -> bool:
    """Not boilerplate ("... has more information about ..."), not a flattened table, no crisis number,
    a readable length."""
    flat = " ".join(text.split())
    return (
        4 <= len(flat.split())
        and not BOILERPLATE.search(flat)
        and not table_row(flat)
        and not has_crisis_number(flat)
        and not flat.endswith(":")
    )


_SECTION = re.compile(
    r"^(?:Outlook|Overview|Symptoms|Causes|Treatment|Diagnosis|Prevention|Risk Factors|Complications|"
    r"Signs and Symptoms|Living With|Who Is at Risk)\s+(?=[A-Z])"
)


def unglue(sentence: str) -> str:
    """The sentence without a heading glued to its front (kept when too little would be left), and
    without an opening bracket that the sentence never closes."""
    m = _HEADING.match(sentence) or _SECTION.match(sentence)
    rest = sentence[m.end() :] if m else sentence
    if rest.startswith("(") and ")" not in rest:
        rest = rest[1:]
    return rest if len(rest.split()) >= 4 else sentence


def units(n: int, text: str) -> list[Unit]:
    """The quotable units of a passage: its sentences, and its lists whole (with their lead-in)."""
    out: list[Unit] = []
    for block in blocks(text):
        if block.is_list and BOILERPLATE.search(block.text):  # "These resources address ...: - a - b"
            continue
        if block.is_list:
            items: list[str] = []
            for item in block.items:  # an item said twice (chunk overlap, the page's own repeats) once
                keep = quotable(item) or len(item.split()) < 4 and not BOILERPLATE.search(item)
                if keep and not any(_repeats(item, seen) for seen in items):
                    items.append(item)
            lead = unglue(block.text) if block.text and not BOILERPLATE.search(block.text) else ""
            lead = lead if len(lead.split()) <= 30 else ""  # a flattened table before the list is no lead-in
            if len(items) >= 2 and not has_crisis_number(" ".join(items)):
                lines = [f"- {i}" for i in items[:MAX_ITEMS]]
                shown = "\n".join([lead, *lines] if lead else lines)
                words = len(shown.split())
                if words <= MAX_LIST_WORDS:
                    out.append(Unit(n, len(out), shown, words))
                    continue
            pieces = [block.text] if block.text else []
            pieces += block.items
        else:
            pieces = sentences(block.text)
        for piece in map(unglue, pieces):
            if quotable(piece) and len(piece.split()) <= 80:
                out.append(Unit(n, len(out), piece, len(piece.split())))
    return out


def _fit(unit: Unit, qtype: str, section_type: str, title_words: set[str]) -> float:
    """How well a unit fits the question's type: the passage's own question type, cue words, a definition
    for 'what is', and a penalty for a sentence that leans on the one before it."""
    flat = " ".join(unit.text.split())
    score = 0.12 if section_type == qtype else 0.0
    cue = CUES.get(qtype)
    if cue and re.search(cue, flat, re.I):
        score += 0.06
    if qtype == "information" and DEFINITION.search(flat):
        score += 0.12 + (0.06 if content_words(flat.split(" is ")[0]) & title_words else 0.0)
    if unit.is_list and qtype in ("symptoms", "causes", "treatment", "prevention", "susceptibility"):
        score += 0.05
    if _PRONOUN.search(flat):
        score -= 0.08
    return score


def choose(
    question: str,
    hits: Sequence[Hit],
    embed: Embed | None = None,
    qtype: str = "",
    allowed: Sequence[int] | None = None,
) -> list[Unit]:
    """The units that answer `question` best, in reading order: the best one first, then the ones close
    to it in score (the next sentence of the same passage counts a little more), no repeats, within
    MAX_WORDS (a list may reach MAX_LIST_WORDS on its own). `allowed` limits the passages (1-based)."""
    qtype = question_type(question, qtype)
    candidates: list[tuple[Unit, str, set[str]]] = []
    for n, hit in enumerate(hits, 1):
        if allowed is not None and n not in allowed:
            continue
        section_type = question_type(hit.chunk.section) if hit.chunk.section else ""
        title = content_words(hit.chunk.title)
        candidates.extend((u, section_type, title) for u in units(n, hit.chunk.text))
    if not candidates:
        return []
    qwords = content_words(question)
    texts = [" ".join(u.text.split()) for u, _, _ in candidates]
    lexical = np.array(
        [
            len(qwords & (content_words(t) | title)) / len(qwords) if qwords else 0.0
            for t, (_, _, title) in zip(texts, candidates, strict=True)
        ]
    )
    if embed is not None:
        vecs = embed([question, *texts])
        score = 0.6 * (vecs[1:] @ vecs[0]) + 0.25 * lexical
    else:
        score = 0.85 * lexical
    score = score + np.array([_fit(u, qtype, st, tw) for u, st, tw in candidates])
    score -= np.array([0.02 * min(u.n - 1, 4) + 0.01 * min(u.pos, 5) for u, _, _ in candidates])
    order = [int(i) for i in np.argsort(-score)]
    best = order[0]
    chosen = [best]
    budget = MAX_LIST_WORDS if candidates[best][0].is_list else MAX_WORDS
    used = candidates[best][0].words

    def fits(i: int) -> bool:
        unit = candidates[i][0]
        if len(chosen) >= 3 or used + unit.words > budget:
            return False
        if unit.is_list and any(candidates[j][0].is_list for j in chosen):
            return False
        return not any(_repeats(unit.text, candidates[j][0].text) for j in chosen)

    # read on in the anchor's passage while its next units still fit the question (a few sentences)
    at = {(u.n, u.pos): i for i, (u, _, _) in enumerate(candidates)}
    anchor = candidates[best][0]
    nxt = at.get((anchor.n, anchor.pos + 1))
    while nxt is not None and score[nxt] >= score[best] - 0.3 and fits(nxt):
        chosen.append(nxt)
        used += candidates[nxt][0].words
        nxt = at.get((anchor.n, candidates[nxt][0].pos + 1))
    for i in order[1:]:  # then what else comes close to the best, from any passage
        unit = candidates[i][0]
        if i in chosen or score[i] < score[best] - 0.1 or _PRONOUN.search(unit.text) or not fits(i):
            continue
        chosen.append(i)
        used += unit.words
    return sorted((candidates[i][0] for i in chosen), key=lambda u: (u.n, u.pos))


def fits_type(chosen: Sequence[Unit], hits: Sequence[Hit], question: str, qtype: str = "") -> bool:
    """Does the quote answer this kind of question? For a specific type (symptoms, treatment, outlook ...)
    one unit must come from a passage of that type or name it (CUES); 'information' fits anything."""
    qtype = question_type(question, qtype)
    cue = CUES.get(qtype)
    if qtype == "information" or cue is None:
        return bool(chosen)
    for u in chosen:
        section = hits[u.n - 1].chunk.section
        if (section and question_type(section) == qtype) or re.search(cue, " ".join(u.text.split()), re.I):
            return True
    return False


def _repeats(a: str, b: str) -> bool:
    """Same words (after normalising), or one inside the other (a list item quoted again as a sentence)."""
    wa, wb = " ".join(content_words_seq(a)), " ".join(content_words_seq(b))
    return same_sentence(a, b) or (bool(wa) and bool(wb) and (wa in wb or wb in wa))


def content_words_seq(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())
