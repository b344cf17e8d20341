"""Make docs/img/readme_evidence.png, the README's picture, from the two evidence-map figures
beside it (each an `evidence_maps.png` of seed 0 after 8 iterations, from the carved-sigmoid
preset): the class means, then the evidence row of the paper's method and of the carved one.

    python docs/img/compose.py
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).parent
#: (source, rows in pixels of the 1300 x 995 figure, the strip's label)
STRIPS = (
    ("evidence_maps_paper_sigmoid_s0.png", (38, 172), "digit class:\nmean image"),
    ("evidence_maps_paper_sigmoid_s0.png", (185, 307), "paper's method:\nevidence"),
    ("evidence_maps_carved_sigmoid_s0.png", (185, 307), "carved:\nevidence"),
)

fig, axes = plt.subplots(len(STRIPS), 1, figsize=(10, 3.6), dpi=150)
for ax, (name, (top, bottom), label) in zip(axes, STRIPS):
    image = plt.imread(HERE / name)[top:bottom, 40:]
    ax.imshow(image)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_frame_on(False)
    ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
fig.subplots_adjust(left=0.13, right=0.995, top=0.99, bottom=0.01, hspace=0.02)
fig.savefig(HERE / "readme_evidence.png")
