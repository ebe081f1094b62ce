"""The scorers read TextBlob's word list themselves (importing TextBlob costs every process a second): they must
read exactly what TextBlob reads."""

from __future__ import annotations

import subprocess
import sys

from feedback.sentiment.lexicon import textblob_senses


def test_the_word_list_is_read_as_textblob_reads_it() -> None:
    from textblob.en import sentiment  # type: ignore[import-untyped]

    sentiment.load()
    theirs = {word: {pos: tuple(scores) for pos, scores in senses.items()} for word, senses in dict.items(sentiment)}
    ours = textblob_senses()
    assert list(ours) == list(theirs)  # the same words, in the same order
    assert ours == theirs
    assert ours["terribly"]["RB"] == ours["terrible"]["JJ"]  # an adverb made from an adjective


def test_the_app_and_its_cli_start_without_importing_textblob_or_nltk() -> None:
    probe = "import sys, civicvoice.cli, feedback.sentiment; print(sorted({'textblob', 'nltk'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
