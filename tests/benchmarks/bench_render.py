"""Benchmark 7: the rendering cost of a 4k-token against a 32k-token answer.

The answer goes into the popup's `MarkdownView` the way a 2,000 tokens/s stream brings
it: 32 tokens per 16 ms frame, cut into finished blocks by `tray.core.chat_view.
BlockSplitter` (`add_blocks` once per block, `set_tail` every frame), and after every
frame the view is laid out and painted (`QApplication.processEvents`), so layout and
painting are counted, not only our own code. Budget (DESIGN §5): linear, 8 x the tokens
cost at most 9 x the time: the figure is the 32k-token answer's time, the baseline the
4k-token answer's, and the ratio is what the budget bounds. For comparison the notes give
the ratio Qt itself gets rendering the same whole answers once
(`QTextDocument.setMarkdown`).

Needs an X display (run it inside `installers/desktop-session.sh`).

    python tests/benchmarks/run.py -k render [--runs 3]
"""

from __future__ import annotations

import statistics
import sys
import time

from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QApplication
from run import Options, Result  # tests/benchmarks/run.py

from tray.core.chat_view import BlockSplitter
from tray.simulator.chat import tokenize
from tray.ui.markdown_view import MarkdownView

TOKENS_PER_FRAME = 32  # 2,000 tokens/s in 16 ms frames


def answer(tokens: int) -> str:
    """A long Markdown answer: paragraphs of 40 words, a list and a code block now and
    then, so every kind of block Qt's reader makes is on the path."""
    parts: list[str] = []
    made = 0
    paragraph = 0
    while made < tokens:
        paragraph += 1
        if paragraph % 10 == 3:
            parts.append("```python\n" + "\n".join(f"x{i} = {i}" for i in range(8)) + "\n```")
            made += 24
        elif paragraph % 10 == 7:
            parts.append("\n".join(f"- item **{i}** of the list" for i in range(6)))
            made += 36
        else:
            parts.append(" ".join(f"w{made + i}" for i in range(40)))
            made += 40
    return "\n\n".join(parts)


def stream_into_view(view: MarkdownView, app: QApplication, text: str) -> float:
    """Seconds spent rendering `text` streamed frame by frame, painting each frame."""
    view.clear_all()
    app.processEvents()
    tokens = tokenize(text)
    splitter = BlockSplitter()
    spent = 0.0
    for start in range(0, len(tokens), TOKENS_PER_FRAME):
        began = time.perf_counter()
        blocks = splitter.feed("".join(tokens[start : start + TOKENS_PER_FRAME]))
        view.add_blocks(blocks)
        view.set_tail(splitter.tail)
        app.processEvents()
        spent += time.perf_counter() - began
    began = time.perf_counter()
    last = splitter.flush()
    view.set_tail("")
    view.add_blocks([last] if last else [])
    app.processEvents()
    return spent + time.perf_counter() - began


def whole_in_qt(text: str) -> float:
    began = time.perf_counter()
    document = QTextDocument()
    document.setMarkdown(text)
    document.setTextWidth(520)
    document.size()  # forces the layout
    return time.perf_counter() - began


SMALL, BIG = 4000, 32000


def render(opts: Options) -> list[Result]:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    view = MarkdownView(lambda _text: None)
    view.resize(540, 380)
    view.show()
    texts = {SMALL: answer(SMALL), BIG: answer(BIG)}
    stream_into_view(view, app, texts[SMALL])  # warm-up
    ours: dict[int, list[float]] = {SMALL: [], BIG: []}
    qt: dict[int, list[float]] = {SMALL: [], BIG: []}
    for _ in range(max(2, min(opts.runs, 3))):
        for size in (SMALL, BIG):
            ours[size].append(stream_into_view(view, app, texts[size]) * 1000)
            qt[size].append(whole_in_qt(texts[size]) * 1000)
    shown = view.toPlainText()
    complete = all(f"w{i}" in shown for i in (0, BIG // 2 - 40, BIG - 100))
    view.close()
    qt_ratio = statistics.median(qt[BIG]) / statistics.median(qt[SMALL])
    return [
        Result(
            name=f"7 render {BIG:,}-token answer streamed (baseline: {SMALL:,} tokens)",
            unit="ms",
            runs=ours[BIG],
            baseline_runs=ours[SMALL],
            budget=f"≤ 9× for {BIG // SMALL}× the tokens",
            budget_ratio=9.0,
            notes=(
                f"Qt's own setMarkdown of the whole answer: {statistics.median(qt[SMALL]):.1f} "
                f"ms for {SMALL:,}, {statistics.median(qt[BIG]):.1f} ms for {BIG:,} tokens "
                f"({qt_ratio:.2f}×); the whole answer is in the view: {complete}"
            ),
        )
    ]


BENCHMARKS = [render]
