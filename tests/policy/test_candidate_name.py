"""An entrant's name reads as people write it: "Geely Galaxy E5", not "Geely Galaxy Galaxy E5" (the
console's and report's new-model tables showed the repeated word; chinese_models.csv has brand
"Geely Galaxy" and model "Galaxy E5")."""

from autopact.data import load_chinese_candidates
from autopact.policy.entry import candidate_name


def test_a_word_the_brand_and_model_share_is_written_once():
    assert candidate_name("Geely Galaxy", "Galaxy E5") == "Geely Galaxy E5"
    assert candidate_name("BYD", "Seagull") == "BYD Seagull" and candidate_name("Zeekr", "X") == "Zeekr X"


def test_no_bundled_candidate_name_repeats_a_word():
    for _, row in load_chinese_candidates().iterrows():
        words = candidate_name(row["brand"], row["model"]).split()
        assert all(a != b for a, b in zip(words, words[1:])), words
