"""Write assistant/data/common_hanzi.txt: the most frequent Chinese characters, by jieba's dictionary.

Each character's weight is the summed frequency of the dictionary words that contain it; the top N
(default 4,000, the size of the 通用规范汉字表's first level plus a margin) are written, simplified
only (text is folded to simplified before it is looked up). Run with the project's venv:
    .venv/bin/python scripts/common_hanzi.py [N]
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import jieba

OUT = Path(__file__).resolve().parents[1] / "assistant" / "data" / "common_hanzi.txt"


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
    weight: Counter[str] = Counter()
    dictionary = Path(jieba.__file__).with_name("dict.txt")
    for line in dictionary.read_text(encoding="utf-8").splitlines():
        word, freq, *_ = line.split(" ")
        for ch in word:
            if "\u4e00" <= ch <= "\u9fff":
                weight[ch] += int(freq)
    chars = [ch for ch, _ in weight.most_common(n)]
    lines = ["# The most frequent Chinese characters by jieba's dictionary (scripts/common_hanzi.py), 50 a line."]
    lines += ["".join(chars[i:i + 50]) for i in range(0, len(chars), 50)]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(chars)} characters to {OUT}")


if __name__ == "__main__":
    main()
