"""Grading: reply text matching, each item kind, and answers that try to break things."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from redislab.learn.quiz_bank import load_bank
from redislab.learn.quiz_grade import (
    Sandbox, grade_choice, grade_explain, grade_hands_on, grade_predict, grade_short,
    shown_setup, suggest_covered,
)
from redislab.learn.quiz_replies import parse_reply_text, reply_matches
from redislab.protocol.reply import NULL_ARRAY, Double, ErrorReply, MapReply, Status

GOOD = Path(__file__).parent / "fixtures" / "quiz" / "good"
WRONGTYPE = ErrorReply("WRONGTYPE Operation against a key holding the wrong kind of value")


@pytest.fixture(scope="module")
def bank():
    return load_bank(GOOD)


# ------------------------------------------------------------------------------------------
# Reply text

@pytest.mark.parametrize("reply,text,ok", [
    (3, "(integer) 3", True),
    (3, "3", True),
    (3, '"3"', False),                 # a quoted string is not an integer
    (b"3", "(integer) 3", False),      # and (integer) is not a string
    (b"3", "3", True),
    (b"3", '"3"', True),
    (None, "(nil)", True),
    (None, "nil", True),
    (NULL_ARRAY, "(nil)", True),
    (None, '""', False),
    (Status("OK"), "OK", True),
    (Status("OK"), "ok", True),
    (WRONGTYPE, "(error) WRONGTYPE", True),
    (WRONGTYPE, "WRONGTYPE Operation against a key holding the wrong kind of value", True),
    (WRONGTYPE, "(error) ERR", False),
    (ErrorReply("ERR value is not an integer or out of range"), "(error) ERR", True),
    (ErrorReply("ERR value is not an integer or out of range"), "(integer) 1", False),
    ([b"a", b"b"], '1) "a"\n2) "b"', True),
    ([b"a", b"b"], "a b", True),
    ([b"a", b"b"], "a\nb", True),
    ([b"a", b"b"], "b a", False),
    ([b"a", b"b"], '1) "a"', False),
    ([], "(empty array)", True),
    ([], "(empty list or set)", True),
    ([], "(nil)", False),
    ([[b"a", b"1"], [b"b", b"2"]], '1) 1) "a"\n   2) "1"\n2) 1) "b"\n   2) "2"', True),
    ([[b"a", b"1"], [b"b", b"2"]], '1) 1) "a"\n   2) "1"\n2) 1) "b"\n   2) "3"', False),
    ([b"x", [b"a", [b"q"]], b"y"], '1) "x"\n2) 1) "a"\n   2) 1) "q"\n3) "y"', True),
    (Double(1.5), '"1.5"', True),
    (Double(1.5), "1.50", True),
    (b"1.5", "1.50", False),           # strings compare exactly
    (MapReply([(b"f", b"v")]), '1) "f"\n2) "v"', True),
    (b"a\x00b", '"a\\x00b"', True),
    (3, "", False),
    (3, '"unterminated', False),
])
def test_reply_matches(reply, text, ok) -> None:
    assert reply_matches(reply, text) is ok


def test_unordered_arrays() -> None:
    assert reply_matches([b"a", b"b", b"c"], "c a b", unordered=True)
    assert not reply_matches([b"a", b"b", b"c"], "c a a", unordered=True)


def test_parse_keeps_markers() -> None:
    assert parse_reply_text("(integer) -2") == ("int", -2)
    assert parse_reply_text('"x y"') == ("str", b"x y", True)
    assert parse_reply_text("hello") == ("word", "hello")


# ------------------------------------------------------------------------------------------
# Simple kinds

def test_choice_by_letter_number_or_text(bank) -> None:
    item = bank.get("a-choice")
    order = [2, 0, 1]        # shown as a) APPEND, b) INCR, c) GET then SET
    assert grade_choice(item, "b", order).correct
    assert grade_choice(item, "2", order).correct
    assert grade_choice(item, "incr", order).correct
    wrong = grade_choice(item, "c", order)
    assert not wrong.correct and "another client" in wrong.why
    assert wrong.expected_text == "b) INCR"
    assert not grade_choice(item, "z", order).correct
    assert not grade_choice(item, "", order).correct


def test_short_answer_forms(bank) -> None:
    item = bank.get("a-short")
    for text in ("-2", " -2 ", "(integer) -2", "`-2`", "-2."):
        assert grade_short(item, text).correct, text
    for text in ("-1", "", "2"):
        assert not grade_short(item, text).correct, text


def test_predict_runs_the_commands(bank) -> None:
    item = bank.get("a-predict")
    assert grade_predict(item, '1) "a"\n2) "b"').correct
    assert grade_predict(item, "a b").correct
    g = grade_predict(item, "b a")
    assert not g.correct and g.expected == [b"a", b"b"]


def test_explain_is_self_graded(bank) -> None:
    item = bank.get("a-explain")
    text = "Commands run one at a time and INCR is atomic."
    assert suggest_covered(item, text) == [0, 1]
    assert grade_explain(item, text, [0, 1, 2]).correct
    passed = grade_explain(item, text, [0, 1])
    assert passed.correct and passed.score == pytest.approx(2 / 3)
    failed = grade_explain(item, text, [0])
    assert not failed.correct and len(failed.details) == 2
    assert not grade_explain(item, "", [0, 1, 2]).correct


# ------------------------------------------------------------------------------------------
# Hands-on

def test_hands_on_solution_passes_and_wrong_fails(bank) -> None:
    item = bank.get("b-hands-on")
    assert grade_hands_on(item, "ZRANGESTORE top scores 0 2 REV", seed=5).correct
    g = grade_hands_on(item, "ZRANGESTORE top scores 0 2", seed=5)
    assert not g.correct and g.details


def test_hard_coding_the_visible_data_fails(bank) -> None:
    item = bank.get("b-hands-on")
    seed = 11
    # Read the data the learner sees and hard-code the answer for it.
    shown = shown_setup(item, seed)[0].split()[2:]
    pairs = sorted(zip(shown[::2], shown[1::2]), key=lambda p: (-int(p[0]), p[1]))
    top = pairs[:3]
    answer = "ZADD top " + " ".join(f"{s} {m}" for s, m in top)
    # It reaches the goal on the visible data ...
    from redislab.learn.quiz_grade import check_hands_on
    assert check_hands_on(item, answer, [seed]).passed
    # ... but not on the hidden variants.
    g = grade_hands_on(item, answer, seed=seed)
    assert not g.correct
    assert "hidden data" in " ".join(g.details)


def test_lua_answer_cases(bank) -> None:
    item = bank.get("b-lua")
    assert grade_hands_on(item, item.solution).correct
    g = grade_hands_on(item, "return redis.call('DEL', KEYS[1])")
    assert not g.correct


@pytest.mark.parametrize("answer", [
    "FLUSHALL",
    "FLUSHALL\nZADD top 1 x",
    "SHUTDOWN NOSAVE",
    "DEBUG SLEEP 0",
    "CONFIG SET dir /",
    "SAVE",
    "MONITOR",
    "SUBSCRIBE ch",
    "BLPOP nothing 0",
    'EVAL "redis.call(\'FLUSHALL\')" 0',
    "SET k \"unbalanced",
    "",
    "   \n\n",
    "\n".join(["PING"] * 60),
    "NOSUCHCOMMAND 1 2",
    "SETRANGE big 100000000 x",
])
def test_hostile_or_absurd_answers_are_just_wrong(bank, answer: str) -> None:
    g = grade_hands_on(bank.get("b-hands-on"), answer)
    assert not g.correct


def test_a_looping_script_is_stopped_and_wrong(bank) -> None:
    item = bank.get("b-lua")
    start = time.monotonic()
    g = grade_hands_on(item, "while true do end", time_limit=0.3)
    assert not g.correct and g.timed_out
    assert time.monotonic() - start < 5


def test_a_script_that_writes_then_loops_is_stopped(bank) -> None:
    item = bank.get("b-lua")
    g = grade_hands_on(item, "redis.call('DEL', KEYS[1]) while true do end", time_limit=0.3)
    assert not g.correct and g.timed_out


def test_looping_eval_in_a_commands_answer(bank) -> None:
    g = grade_hands_on(bank.get("b-hands-on"), 'EVAL "while true do end" 0', time_limit=0.3)
    assert not g.correct and g.timed_out


def test_sandbox_refuses_admin_commands_only_in_answers() -> None:
    box = Sandbox()
    # The question's own commands may configure the engine.
    assert box.run_lines(["CONFIG SET maxmemory-policy allkeys-lru"]).last == "OK"
    box.restricted = True
    reply = box.run_lines(["CONFIG GET maxmemory-policy"], authored=False).last
    assert isinstance(reply, ErrorReply) and "not available" in reply.message
    box.allow = frozenset({"CONFIG"})
    assert box.run_lines(["CONFIG GET maxmemory-policy"], authored=False).last == \
        [(b"maxmemory-policy", b"allkeys-lru")]


def test_forbidden_commands_are_refused_even_inside_scripts(tmp_path: Path) -> None:
    (tmp_path / "t.toml").write_text('''format_version = 1
topic = "t"
lesson = "x"
tags = ["t"]
[[item]]
id = "no-keys"
kind = "hands-on"
prompt = "Delete k without KEYS."
setup = ["SET k 1"]
forbidden = ["KEYS"]
solution = "DEL k"
wrong = ["KEYS *"]
explanation = "-"
[[item.goal]]
probe = "EXISTS k"
equals = "(integer) 0"
''')
    item = load_bank(tmp_path).get("no-keys")
    assert grade_hands_on(item, "DEL k").correct
    assert not grade_hands_on(item, "KEYS *\nDEL k").correct
    assert not grade_hands_on(
        item, 'EVAL "for _, k in ipairs(redis.call(\'KEYS\', \'*\')) do '
              'redis.call(\'DEL\', k) end" 0').correct
