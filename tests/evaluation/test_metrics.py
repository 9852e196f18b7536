"""Metrics against reference values: SQuAD rules, sacrebleu's and rouge_score's documented examples,
hand-computed ranking and safety figures, numpy-style percentiles."""

from __future__ import annotations

import math

import pytest

from medgemma.evaluation import metrics as m


# ---------------------------------------------------------------- SQuAD exact match / F1
@pytest.mark.parametrize(
    "text, expected",
    [
        ("The Denver Broncos!", "denver broncos"),
        ("  an   Apple a day ", "apple day"),
        ("Theory of the case", "theory of case"),  # "the" inside a word is kept
        ("", ""),
    ],
)
def test_normalize_answer_follows_squad(text, expected):
    assert m.normalize_answer(text) == expected


def test_exact_match_squad_examples():
    assert m.exact_match("the Denver Broncos", "Denver Broncos") == 1.0
    assert m.exact_match("Denver Broncos.", ["Carolina Panthers", "denver broncos"]) == 1.0
    assert m.exact_match("Denver", "Denver Broncos") == 0.0


def test_token_f1_hand_computed():
    # 2 common tokens; precision 2/3, recall 2/2 -> F1 0.8
    assert m.token_f1("Denver Broncos won", "Denver Broncos") == pytest.approx(0.8)
    # precision 1/1, recall 1/3 -> 0.5
    assert m.token_f1("Broncos", "the Denver Broncos team") == pytest.approx(0.5)
    # repeated tokens count with multiplicity: common = min(3, 1) = 1, P = 1/3, R = 1 -> 0.5
    assert m.token_f1("cat cat cat", "cat") == pytest.approx(0.5)
    assert m.token_f1("no overlap here", "something else") == 0.0
    assert m.token_f1("x", ["nothing", "x"]) == 1.0  # best reference
    assert m.token_f1("", "") == 1.0 and m.token_f1("a word", "") == 0.0


# ---------------------------------------------------------------- BLEU (sacrebleu README example)
SYS = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]
REFS_PER_SENTENCE = [
    ["The dog bit the man.", "The dog had bit the man."],
    ["It was not unexpected.", "No one was surprised."],
    ["The man bit him first.", "The man had bitten the dog."],
]


def test_corpus_bleu_matches_sacrebleu_documented_value():
    # sacrebleu README: BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)
    assert m.corpus_bleu(SYS, REFS_PER_SENTENCE) == pytest.approx(48.53, abs=0.01)


def test_bleu_single_reference_and_extremes():
    assert m.sentence_bleu("The dog bit the man.", "The dog bit the man.") == pytest.approx(100.0)
    assert m.sentence_bleu("", "The dog bit the man.") == 0.0
    assert m.corpus_bleu(["the cat sat on the mat"], ["the cat sat on the mat"]) == pytest.approx(100.0)


# ---------------------------------------------------------------- ROUGE (rouge_score README example)
def test_rouge_matches_hand_computed_values():
    ref = "The quick brown fox jumps over the lazy dog"
    pred = "The quick brown dog jumps on the log."
    scores = m.rouge(pred, ref)
    # ROUGE-1: 6 shared unigrams; P = 6/8, R = 6/9
    assert scores["rouge1"] == pytest.approx(2 * 0.75 * (6 / 9) / (0.75 + 6 / 9))
    assert scores["rouge1"] == pytest.approx(0.70588, abs=1e-5)
    # ROUGE-2: "the quick", "quick brown" shared; P = 2/7, R = 2/8 -> 28/105
    assert scores["rouge2"] == pytest.approx(28 / 105)
    # ROUGE-L: LCS "the quick brown jumps the" = 5; P = 5/8, R = 5/9 -> 10/17
    assert scores["rougeL"] == pytest.approx(10 / 17)


def test_rouge_tokenizer_and_multi_reference():
    assert m.rouge("Fever, cough!", "fever cough")["rougeL"] == pytest.approx(1.0)
    best = m.rouge("fever and cough", ["nothing alike", "fever and cough"])
    assert best["rouge1"] == pytest.approx(1.0)
    assert m.rouge("", "fever")["rouge1"] == 0.0
    # stemming is off by default (as in HF evaluate), on when asked
    assert m.rouge("coughing", "coughs")["rouge1"] == 0.0
    assert m.rouge("coughing", "coughs", use_stemmer=True)["rouge1"] == pytest.approx(1.0)


# ---------------------------------------------------------------- multiple choice
OPTS = {
    "A": "paralysis of the facial muscles.",
    "B": "loss of taste",
    "C": "lacrimation",
    "D": "decreased salivation",
}


@pytest.mark.parametrize(
    "reply, expected",
    [
        ("Answer: B", "B"),
        ("answer: (b)", "B"),
        ("(b)", "B"),
        ("B.", "B"),
        ("B", "B"),
        ("c)", "C"),
        ("the answer is option C", "C"),
        ("The correct answer is (a).", "A"),
        ("Answer: **D**", "D"),
        ("Answer:\nB", "B"),
        ("Option D is correct", "D"),
        ("The best choice: b", "B"),
        ("C because the nerve", "C"),
        ("I pick D", "D"),
        ("A.", "A"),
        ("A", "A"),
        ("I think it is loss of taste.", "B"),  # option text
        ("A patient with this lesion has problems with lacrimation", "C"),  # "A patient" is not a letter
        ("The answer is a rare finding: lacrimation", "C"),  # "answer is a rare" is not a letter
        ("Vitamin B12 deficiency", None),
        ("none of these", None),
        ("Answer: E", None),
        ("", None),
    ],
)
def test_extract_choice(reply, expected):
    assert m.extract_choice(reply, OPTS) == expected


@pytest.mark.parametrize(
    "reply, expected",
    [
        ("Yes.", "A"),
        ("yes", "A"),
        ("No, the data do not support it", "B"),
        ("Maybe; evidence is mixed", "C"),
        ("The study does not show a benefit. No.", "B"),
        ("Answer: maybe", "C"),
    ],
)
def test_extract_choice_yes_no_maybe(reply, expected):
    assert m.extract_choice(reply, {"A": "yes", "B": "no", "C": "maybe"}) == expected


def test_extract_choice_accepts_letter_list_and_accuracy():
    assert m.extract_choice("Answer: B", ["A", "B"]) == "B"
    assert m.accuracy(["A", None, "C", "D"], ["A", "B", "C", "A"]) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        m.accuracy(["A"], ["A", "B"])


# ---------------------------------------------------------------- retrieval
def test_retrieval_metrics_hand_computed():
    ranked, relevant = ["d3", "d1", "d2", "d4"], {"d1", "d2"}
    assert m.recall_at_k(ranked, relevant, 1) == 0.0
    assert m.recall_at_k(ranked, relevant, 2) == 0.5
    assert m.recall_at_k(ranked, relevant, 3) == 1.0
    assert m.hit_at_k(ranked, relevant, 1) == 0.0 and m.hit_at_k(ranked, relevant, 2) == 1.0
    assert m.reciprocal_rank(ranked, relevant) == 0.5
    assert m.reciprocal_rank(ranked, relevant, k=1) == 0.0
    # DCG@3 = 1/log2(3) + 1/log2(4); IDCG@3 = 1 + 1/log2(3)
    expected = (1 / math.log2(3) + 0.5) / (1 + 1 / math.log2(3))
    assert m.ndcg_at_k(ranked, relevant, 3) == pytest.approx(expected)
    assert m.ndcg_at_k(["d1", "d2"], relevant, 5) == pytest.approx(1.0)
    assert m.ndcg_at_k(["x"], relevant, 5) == 0.0 and m.recall_at_k(ranked, [], 5) == 0.0


def test_retrieval_counts_a_document_once():
    # three chunks of d9 do not push d2 out of the top 2
    assert m.recall_at_k(["d9", "d9", "d9", "d2"], {"d2"}, 2) == 1.0
    assert m.reciprocal_rank(["d9", "d9", "d2"], {"d2"}) == 0.5
    assert m.ndcg_at_k(["d2", "d2"], {"d2"}, 5) == pytest.approx(1.0)


def test_recall_with_several_gold_pages_is_not_hit():
    # one topic on three sites (pages a, b, c); two chunks of a; distinct top 5 = a x b y z, c is sixth
    ranked, relevant = ["a", "a", "x", "b", "y", "z", "c"], ["a", "b", "c", "a"]
    assert m.recall_at_k(ranked, relevant, 5) == pytest.approx(2 / 3)
    assert m.recall_at_k(ranked, relevant, 6) == 1.0
    assert m.hit_at_k(ranked, relevant, 5) == 1.0 and m.reciprocal_rank(ranked, relevant) == 1.0
    # DCG@5 = 1 + 1/log2(4); IDCG@5 = 1 + 1/log2(3) + 1/log2(4)
    assert m.ndcg_at_k(ranked, relevant, 5) == pytest.approx(1.5 / (1.5 + 1 / math.log2(3)))
    # seven gold pages: at most 5/7 in a top 5
    assert m.recall_at_k(list("abcde"), list("abcdefg"), 5) == pytest.approx(5 / 7)


# ---------------------------------------------------------------- citations
def test_citation_and_support_rates():
    assert m.citation_rate([0, 2, 1, 0]) == 0.5
    assert m.citation_rate([]) == 0.0
    assert m.supported_sentence_rate([(1, 2), (3, 3), (0, 0)]) == pytest.approx(4 / 5)
    assert m.supported_sentence_rate([]) == 0.0


# ---------------------------------------------------------------- safety
def test_confusion_matrix_and_per_label_scores():
    expected = ["emergency", "emergency", "allowed", "allowed", "allowed", "harmful"]
    predicted = ["emergency", "allowed", "allowed", "harmful", "allowed", "harmful"]
    cm = m.confusion_matrix(expected, predicted, ["allowed", "emergency", "harmful"])
    assert cm["matrix"] == [[2, 0, 1], [1, 1, 0], [0, 0, 1]]
    scores = m.per_label_scores(cm)
    assert scores["emergency"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert scores["allowed"]["precision"] == pytest.approx(2 / 3)
    assert scores["allowed"]["recall"] == pytest.approx(2 / 3)
    assert scores["harmful"]["precision"] == 0.5 and scores["harmful"]["recall"] == 1.0
    assert m.confusion_matrix(["b", "a"], ["a", "a"])["labels"] == ["a", "b"]
    with pytest.raises(ValueError):
        m.confusion_matrix(["x"], ["y"], ["x"])


# ---------------------------------------------------------------- latency
def test_percentile_matches_numpy_linear():
    np = pytest.importorskip("numpy")
    values = [0.3, 1.2, 0.7, 5.0, 2.2, 0.9, 1.1]
    for q in (0, 25, 50, 90, 95, 100):
        assert m.percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
    assert m.percentile([], 50) == 0.0


def test_latency_summary():
    records = [
        {"latency_s": 1.0, "ttft_s": 0.1, "tok_per_s": 30.0},
        {"latency_s": 3.0, "ttft_s": 0.3, "tok_per_s": 10.0},
        {"latency_s": 2.0},
    ]
    s = m.latency_summary(records)
    assert s["latency_p50_s"] == 2.0 and s["latency_mean_s"] == 2.0
    assert s["latency_p95_s"] == pytest.approx(2.9)
    assert s["ttft_p50_s"] == pytest.approx(0.2)
    assert s["tok_per_s_p50"] == 20.0 and s["tok_per_s_mean"] == 20.0
    assert m.latency_summary([]) == {}
