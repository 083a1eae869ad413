#!/usr/bin/env python3
"""Unit tests of score.py: python3 -m unittest bench/stories/test_score.py"""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import score  # noqa: E402

H = 3600 * 1000


def rows(*specs):
    return [score.Row(ts, pub, story, title) for ts, pub, story, title in specs]


class BCubed(unittest.TestCase):
    def test_perfect(self):
        self.assertEqual(score.bcubed(["a", "a", "b"], ["x", "x", "y"]), (1.0, 1.0, 1.0))

    def test_all_singletons(self):
        p, r, _ = score.bcubed(["1", "2", "3", "4"], ["x", "x", "x", "y"])
        self.assertEqual(p, 1.0)
        self.assertAlmostEqual(r, (1 / 3 * 3 + 1) / 4)

    def test_one_cluster(self):
        p, r, _ = score.bcubed(["a"] * 4, ["x", "x", "x", "y"])
        self.assertAlmostEqual(p, (3 / 4 * 3 + 1 / 4) / 4)
        self.assertEqual(r, 1.0)


class Baselines(unittest.TestCase):
    def test_overlap_joins_most_recent_similar_row_in_window(self):
        rs = rows((0, "A", "s1", "Fed official says weak data"),
                  (1, "B", "s2", "Something else entirely"),
                  (2, "C", "s1", "fed official says weak data!"),
                  (50 * H, "D", "s1", "Fed official says weak data"))
        self.assertEqual(score.place_overlap(rs), ["0", "1", "0", "3"])

    def test_item(self):
        self.assertEqual(score.place_item(rows((0, "A", "s", "t"), (1, "B", "s", "t"))), ["0", "1"])


class Syndicated(unittest.TestCase):
    def test_pairs_need_other_publisher_and_window(self):
        rs = rows((0, "A", "s1", "Same  Title"),
                  (1, "A", "s1", "same title"),
                  (2, "B", "s2", "SAME TITLE"),
                  (49 * H, "C", "s1", "same title"))
        self.assertEqual(score.syndicated_pairs(rs), [(0, 2), (1, 2)])
        fig = score.figures("x", ["p", "p", "p", "q"], rs, score.syndicated_pairs(rs))
        self.assertEqual(fig["syndicated_same_story_rate"], 1.0)
        self.assertEqual(fig["syndicated_gold_same_story_rate"], 0.0)


class Command(unittest.TestCase):
    def test_command_gets_the_data_on_stdin(self):
        with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as f:
            f.write("1\tA\ts1\tone\n2\tB\ts1\tone\n3\tC\ts2\ttwo\n")
        try:
            raw, rs = score.load(f.name)
            self.assertEqual(score.place_command(["cut", "-f3"], raw, len(rs), 10),
                             ["s1", "s1", "s2"])
            with self.assertRaises(RuntimeError):
                score.place_command(["head", "-1"], raw, len(rs), 10)
            self.assertEqual(score.main(["score.py", "--data", f.name, "--check", "--",
                                         "cut", "-f3"]), 0)
            self.assertEqual(score.main(["score.py", "--data", f.name, "--check", "--",
                                         "awk", "{print NR}"]), 1)
        finally:
            os.unlink(f.name)


if __name__ == "__main__":
    unittest.main()
