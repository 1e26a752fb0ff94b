"""Compressibility against accuracy on the real digits: the map's tables, its claims and its verdict.

Introduced in the chapter *Compressibility against accuracy* (``book/frontier.md``); the preface
and the README state the same verdict (:func:`headline`).

The packaged sweep ``digits-frontier`` trains one-hidden-layer networks on
:func:`htsgd.data.mnist_digits` with no noise and with alpha-stable noise of the paper's three
types over a grid of noise levels sigma, 20 seeds each, and records for every network its
unpruned test accuracy, the fraction the authors' mce-0.1 rule prunes (the paper's
compressibility) and ``prunable_at``: the largest fraction of neurons, smallest norms first,
whose removal costs at most one point of test accuracy (the paper's "robust test performance
under pruning", read off the pruning curve).

Two networks trained with different noise levels differ in accuracy as well as in
compressibility, so the claims compare noise settings *at matched accuracy*
(:class:`htsgd.evidence.AtAccuracy`): per seed, the metric is interpolated along sigma where
the test accuracy falls to the noise-free network's minus 0.5, 1 or 2 points, and compared,
paired by seed, with Gaussian noise of the same type (alpha = 2, read the same way) and with no
noise (the noise-free network itself). Each paper claim is one Holm family over every
(width, noise type, alpha, accuracy level, comparator) the results hold.

Results are read from ``results/<sweep>/results.csv`` when the working folder is in a clone
(the freshest: a reader who reran the sweep sees their own), else from the copy shipped with
the package (``htsgd/runs/<sweep>``, written by ``scripts/ship_runs.py``), so the chapter
reads the same numbers on Colab and Binder.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from . import noise as _noise
from ._checks import check_choice
from .evidence import AtAccuracy, Claim
from .sweep.tables import find_results, select

__all__ = [
    "SWEEPS", "DROPS", "MCE", "PRUNABLE", "QUANTITIES", "COMPARATORS",
    "load", "complete_widths", "trained", "tested", "network", "heavy_settings", "claims", "verdict", "summary", "verdict_grid", "together", "tally", "reading", "headline", "figure", "WHY", "why_claims", "why_table", "why_grid", "fixed_claims", "fixed_grid",
]

#: The packaged sweeps the chapter reads: the map, the explanation runs, the deeper and convolutional networks.
SWEEPS = ("digits-frontier", "digits-frontier-why", "digits-frontier-deep")
#: The accuracy levels of the matched comparisons: the noise-free network's test accuracy minus these.
DROPS = (0.005, 0.01, 0.02)
#: The paper's compressibility: the fraction of neurons the mce-0.1 rule prunes.
MCE = "prune/mce0.1/pruned_fraction"
#: Robustness under pruning: the largest fraction prunable (smallest norms first) at a cost of one point.
PRUNABLE = "prunable_at/norm/0.01"
#: The two paper claims: the quantity each compares, and the words for it.
QUANTITIES = {"compressible": (MCE, "prunes more by the mce-0.1 rule"),
              "robust": (PRUNABLE, "can lose more neurons at a cost of one point")}
#: What the heavy tails are compared with: Gaussian noise of the same type (alpha = 2) and no noise.
COMPARATORS = ("gaussian", "none")


def _packaged(name: str) -> Path:
    return Path(str(resources.files("htsgd.runs") / name))


def load(name: str = "digits-frontier", start: Any = None) -> tuple[Any, dict]:
    """The results table of a packaged sweep and its provenance, or ``(None, {})`` where there are none.

    Parameters
    ----------
    name : str
        One of :data:`SWEEPS`.
    start : path-like, optional
        Where to look for ``results/<name>/results.csv`` (default: the working folder and its parents).

    Returns
    -------
    (pandas.DataFrame or None, dict)
        The table (one row per trained network, grid cells and matched-steps controls) and the
        provenance (commit, cost, machine; key ``source``: the file it came from).

    Introduced in the chapter *Compressibility against accuracy*.
    """
    import pandas as pd

    check_choice("name", name, SWEEPS)
    found = find_results(name, start)
    path = found if found is not None else _packaged(name) / "results.csv.gz"
    if not path.is_file():
        return None, {}
    about = path.parent / "provenance.json"
    provenance = json.loads(about.read_text()) if about.is_file() else {}
    provenance["source"] = "results/" + name if found is not None else "the copy shipped with htsgd"
    return pd.read_csv(path), provenance


def complete_widths(frame: Any, name: str = "digits-frontier") -> list[int]:
    """The widths at which ``frame`` holds every grid cell (seed) of the packaged sweep ``name``.

    The claims are tested at these widths only: a width whose seeds are still being computed (the sweep runs in
    blocks of seeds, across sessions) is drawn and counted but not tested, since its intervals would rest on a
    part of the seeds chosen by the order of computation, and its claims would enlarge the Holm family.

    Introduced in the chapter *Compressibility against accuracy*."""
    from .sweep import load_config

    check_choice("name", name, SWEEPS)
    wanted: dict[int, set] = {}
    for cell in load_config(name).cells():
        wanted.setdefault(int(cell.width), set()).add((cell.seed, cell.noise if cell.noisy else None,
                                                       round(cell.alpha, 6) if cell.noisy else None,
                                                       round(cell.sigma, 12) if cell.noisy else None))
    grid = select(frame, role="grid")
    out = []
    for width, cells in sorted(wanted.items()):
        rows = grid[grid["width"] == width]
        have = {(int(r.seed), r.noise if r.alpha == r.alpha else None, round(r.alpha, 6) if r.alpha == r.alpha else None,
                 round(r.sigma, 12) if r.alpha == r.alpha else None) for r in rows.itertuples()}
        if cells <= have:
            out.append(width)
    return out


def trained(frame: Any) -> Any:
    """``frame`` with the pruning numbers of every grid network that did not train (stopped by the iteration cap or
    diverged) set to NaN.

    The paper's protocol prunes networks trained to 95% training accuracy; a network left near chance prunes
    "robustly" by definition (its accuracy has nowhere to fall), so its pruning numbers would say nothing about
    the noise. Its row stays (its accuracy still counts, and the tables count it); a claim then reads the seeds
    whose networks trained, and says how many. The matched-steps controls stop at their step count by design and
    keep their numbers.

    Introduced in the chapter *Compressibility against accuracy*."""
    out = frame.copy()
    failed = (out["role"] == "grid") & out["stopped_by"].isin(["max_iters", "diverged"])
    pruning = [c for c in out.columns if c.startswith(("prune/", "prunable_at/", "pruning_curve/"))]
    out.loc[failed, pruning] = float("nan")
    return out


def tested(frame: Any, name: str = "digits-frontier") -> Any:
    """The part of the results the claims are tested on: :func:`trained` of the rows at :func:`complete_widths`.

    Introduced in the chapter *Compressibility against accuracy*."""
    return trained(frame[frame["width"].isin(complete_widths(frame, name))])


def _type(noise: str) -> int | None:
    return _noise.get(noise).paper_type


def network(model: str, depth: int) -> str:
    """A network's name in the tables: ``"1 hidden layer"``, ``"3 hidden layers"`` (model ``fcn`` of ``depth`` weight
    layers) or ``"CNN"``.

    Introduced in the chapter *Compressibility against accuracy*."""
    if model == "fcn":
        return f"{depth - 1} hidden layer{'s' if depth > 2 else ''}"
    return model.upper()


def heavy_settings(frame: Any) -> list[tuple[str, int, int, str, float]]:
    """The ``(model, depth, width, noise, alpha)`` with ``alpha < 2`` whose Gaussian counterpart (the same network
    and type at alpha 2) and noise-free network the table holds: the settings the claims compare, in a fixed order.

    Introduced in the chapter *Compressibility against accuracy*."""
    grid = select(frame, role="grid")
    net = ["model", "depth", "width"]
    noisy = grid[grid["alpha"].notna()]
    have = {(m, int(d), int(w), n, float(a)) for m, d, w, n, a in noisy[[*net, "noise", "alpha"]].itertuples(index=False)}
    free = {(m, int(d), int(w)) for m, d, w in grid[grid["alpha"].isna()][net].itertuples(index=False)}
    return sorted((s for s in have if s[4] < 2 and (*s[:4], 2.0) in have and s[:3] in free),
                  key=lambda s: (s[0] != "fcn", s[0], s[1], s[2], _type(s[3]) or 0, -s[4]))


def _key(quantity: str, setting: tuple[str, int, int, str, float], drop: float, comparator: str) -> str:
    model, depth, width, noise, alpha = setting
    return (f"{quantity[:4]}-{model}{depth}-w{width}-t{_type(noise)}-a{round(alpha * 100)}-d{round(drop * 1000)}-"
            f"{comparator[:5]}")


def claims(frame: Any, quantities: Sequence[str] = tuple(QUANTITIES), drops: Sequence[float] = DROPS) -> list[Claim]:
    """The paper's two claims at matched accuracy, one :class:`~htsgd.evidence.Claim` per comparison.

    For every heavy-tailed setting of :func:`heavy_settings`, accuracy level in ``drops`` and
    comparator (:data:`COMPARATORS`): heavy tails give a larger value of the quantity (the mce-0.1
    fraction for ``"compressible"``, the fraction prunable at one point for ``"robust"``) than the
    comparator, both read where the test accuracy has fallen to the seed's noise-free accuracy
    minus the level (the noise-free network: at its own accuracy). The claims of one quantity form
    one Holm family, named after it.

    Returns
    -------
    list of Claim
        In the order quantity, width, noise type, alpha (heaviest last), level, comparator.

    Introduced in the chapter *Compressibility against accuracy*.
    """
    out = []
    for quantity in quantities:
        check_choice("quantity", quantity, tuple(QUANTITIES))
        column, words = QUANTITIES[quantity]
        for setting in heavy_settings(frame):
            model, depth, width, noise, alpha = setting
            at = {"role": "grid", "model": model, "depth": depth, "width": width}
            treated = {**at, "noise": noise, "alpha": alpha}
            controls = {"gaussian": {**treated, "alpha": 2.0}, "none": {**at, "alpha": None}}
            for drop in drops:
                metric = AtAccuracy(column, drop, reference=controls["none"])
                for comparator in COMPARATORS:
                    against = "Gaussian noise of its type" if comparator == "gaussian" else "no noise"
                    out.append(Claim(
                        _key(quantity, setting, drop, comparator),
                        f"{network(model, depth)}, width {width}, type {_type(noise)}, alpha {alpha:g}: {words} than "
                        f"{against}, "
                        f"at the noise-free accuracy minus {drop * 100:g} point{'' if drop == 0.01 else 's'}",
                        "paper", "heavy tails", "map", metric, treated, controls[comparator], family=quantity))
    return out


def verdict(frame: Any) -> Any:
    """:func:`htsgd.evidence.assess` of :func:`claims` on ``frame`` (as the table ``"map"``): every verdict.

    Introduced in the chapter *Compressibility against accuracy*."""
    from .evidence import assess

    return assess(claims(frame), {"map": frame})


def summary(frame: Any, columns: Sequence[str] = ("test_acc", MCE, PRUNABLE)) -> Any:
    """Median and quartiles over seeds of ``columns`` per ``(model, depth, width, noise, alpha, sigma)``, grid cells.

    Returns
    -------
    pandas.DataFrame
        One row per setting; for each column ``c``, columns ``c``, ``c:q25``, ``c:q75``; plus ``n`` (seeds),
        ``capped`` (cells stopped by the iteration cap), ``diverged`` (cells whose training diverged: their
        pruning numbers are NaN) and ``iterations`` (median). No noise has alpha NaN
        and sigma 0.

    Introduced in the chapter *Compressibility against accuracy*.
    """
    grid = select(frame, role="grid").assign(sigma=lambda t: t["sigma"].where(t["alpha"].notna(), 0.0))
    keys = ["model", "depth", "width", "noise", "alpha", "sigma"]
    grid = grid.assign(noise=grid["noise"].where(grid["alpha"].notna(), "none"))
    groups = grid.groupby(keys, dropna=False, sort=True)
    parts = {}
    for c in columns:
        parts[c] = groups[c].median()
        parts[f"{c}:q25"] = groups[c].quantile(0.25)
        parts[f"{c}:q75"] = groups[c].quantile(0.75)
    parts["n"] = groups["seed"].nunique()
    parts["capped"] = groups["stopped_by"].agg(lambda s: int((s == "max_iters").sum()))
    parts["diverged"] = groups["stopped_by"].agg(lambda s: int((s == "diverged").sum()))
    parts["iterations"] = groups["iterations"].median()
    import pandas as pd

    return pd.DataFrame(parts).reset_index()


def _rows(assessment: Any) -> Any:
    """One row per claim of the two paper families, read off the claim itself."""
    import pandas as pd

    rows = []
    for f in assessment:
        c = f.claim
        if c.family not in QUANTITIES or not isinstance(c.metric, AtAccuracy):
            continue
        t = c.treated
        rows.append({"quantity": c.family, "network": network(t["model"], int(t["depth"])), "width": int(t["width"]),
                     "type": _type(t["noise"]), "alpha": float(t["alpha"]), "points": round(c.metric.drop * 100, 6),
                     "comparator": "gaussian" if c.control.get("alpha") == 2.0 else "none", "verdict": f.verdict,
                     "estimate": f.estimate, "low": f.low, "high": f.high, "n": f.n, "p_holm": f.p_holm})
    return pd.DataFrame(rows)


_MARK = {"yes": "holds", "no": "fails", "undecided": "?", "not computed": "-"}


def verdict_grid(assessment: Any, quantity: str) -> Any:
    """The verdicts of one quantity's claims as a grid: a row per (network, width, type, alpha), a column per
    (comparator, points below the noise-free accuracy); cells ``holds``, ``fails`` or ``?`` (undecided).

    Introduced in the chapter *Compressibility against accuracy*."""
    check_choice("quantity", quantity, tuple(QUANTITIES))
    rows = _rows(assessment)
    rows = rows[rows["quantity"] == quantity].assign(mark=lambda t: t["verdict"].map(_MARK))
    grid = rows.pivot_table(index=["network", "width", "type", "alpha"], columns=["comparator", "points"],
                            values="mark", aggfunc="first")
    return grid.sort_index(axis=0, ascending=[True, True, True, False]).reindex(columns=list(COMPARATORS), level=0)


def together(assessment: Any) -> Any:
    """Where the paper's two claims hold together: per (network, width, type, alpha, points), whether heavy tails are both
    more compressible and more robust than Gaussian noise and than no noise (all four claims hold).

    Returns
    -------
    pandas.DataFrame
        Columns ``network``, ``width``, ``type``, ``alpha``, ``points``, ``compressible`` and ``robust`` (how many of the two
        comparators each claim beats), and ``both`` (True where all four hold).

    Introduced in the chapter *Compressibility against accuracy*.
    """
    rows = _rows(assessment).assign(held=lambda t: t["verdict"] == "yes")
    out = rows.pivot_table(index=["network", "width", "type", "alpha", "points"], columns="quantity", values="held",
                           aggfunc="sum").reset_index()
    out["both"] = (out["compressible"] == len(COMPARATORS)) & (out["robust"] == len(COMPARATORS))
    return out.sort_values(["network", "width", "type", "alpha", "points"], ascending=[True, True, True, False, True],
                           ignore_index=True)


def tally(assessment: Any) -> dict[str, int]:
    """How many claims hold and fail, per quantity and comparator, and where both claims hold together.

    Keys ``{quantity}-{comparator}-holds``, ``-fails`` and ``-all`` for every quantity of
    :data:`QUANTITIES` and comparator of :data:`COMPARATORS`; ``both`` (settings where all four
    claims hold, :func:`together`) and ``both-all`` (settings).

    Introduced in the chapter *Compressibility against accuracy*.
    """
    rows = _rows(assessment)
    out = {}
    for quantity in QUANTITIES:
        for comparator in COMPARATORS:
            yes, no, n = _counts(rows, quantity, comparator) if not rows.empty else (0, 0, 0)
            out.update({f"{quantity}-{comparator}-holds": yes, f"{quantity}-{comparator}-fails": no,
                        f"{quantity}-{comparator}-all": n})
    both = together(assessment) if not rows.empty else None
    out["both"] = 0 if both is None else int(both["both"].sum())
    out["both-all"] = 0 if both is None else len(both)
    return out


def reading(counts: dict[str, int], quantity: str, comparator: str) -> str:
    """One phrase for a paper claim against one comparator, from :func:`tally`'s counts: ``"holds"`` (every
    comparison holds), ``"fails"`` (some fail, none hold), ``"holds in part"`` (some hold, the rest undecided
    or failing) or ``"is undecided"`` (none settled, or none computed).

    Introduced in the chapter *Compressibility against accuracy*."""
    check_choice("quantity", quantity, tuple(QUANTITIES))
    check_choice("comparator", comparator, COMPARATORS)
    held, failed, total = (counts[f"{quantity}-{comparator}-{k}"] for k in ("holds", "fails", "all"))
    if total and held == total:
        return "holds"
    if failed and not held:
        return "fails"
    return "holds in part" if held else "is undecided"


def _counts(rows: Any, quantity: str, comparator: str) -> tuple[int, int, int]:
    sub = rows[(rows["quantity"] == quantity) & (rows["comparator"] == comparator)]
    return int((sub["verdict"] == "yes").sum()), int((sub["verdict"] == "no").sum()), len(sub)


def _example(rows: Any, quantity: str, comparator: str) -> str:
    """The paper's own setting (type 1, alpha 1.5, the narrowest width, one point) as numbers."""
    pick = rows[(rows["quantity"] == quantity) & (rows["comparator"] == comparator) & (rows["type"] == 1)
                & (rows["alpha"] == 1.5) & (rows["points"] == 1.0)]
    if pick.empty or not math.isfinite(float(pick["estimate"].iloc[0])):
        return "not computed"
    r = pick.sort_values("width").iloc[0]
    return (f"{r['estimate']:+.2f} ({r['low']:+.2f} to {r['high']:+.2f}, {int(r['n'])} seeds) at width "
            f"{int(r['width'])}")


def headline(assessment: Any) -> Any:
    """The table "the paper says / we measured / verdict" for the paper's two claims and their conjunction.

    ``we measured``: for type 1 at alpha 1.5 (the paper's setting), the narrowest width and one point below the
    noise-free accuracy, the mean paired difference (heavy tails minus the comparator) and its 95% interval;
    ``verdict``: how many of the Holm-corrected claims of the family hold and fail.

    Introduced in the chapter *Compressibility against accuracy*.
    """
    import pandas as pd

    rows = _rows(assessment)
    if rows.empty:
        return pd.DataFrame(columns=["the paper says", "we measured", "verdict"])
    says = {"compressible": "heavy-tailed noise gives increased compressibility",
            "robust": "with robust test performance under pruning"}
    out = []
    for quantity, (column, _) in QUANTITIES.items():
        for comparator in COMPARATORS:
            yes, no, n = _counts(rows, quantity, comparator)
            than = "Gaussian noise" if comparator == "gaussian" else "no noise"
            out.append({"the paper says": f"{says[quantity]} (against {than})",
                        "we measured": f"{column} at matched accuracy, alpha 1.5 minus {than}: "
                                       + _example(rows, quantity, comparator),
                        "verdict": f"holds in {yes} of {n} comparisons, fails in {no}"})
    both = together(assessment)
    where = both[both["both"]]
    out.append({"the paper says": "both at once",
                "we measured": "settings where heavy tails beat Gaussian noise and no noise on both quantities",
                "verdict": f"in {len(where)} of {len(both)} (width, type, alpha, level) settings"})
    return pd.DataFrame(out)


_STYLES = {"per_neuron": "-", "per_weight": "--", "isotropic": ":"}
_PANELS = (("test_acc", "test accuracy, unpruned"), (MCE, "fraction pruned by mce-0.1"),
           (PRUNABLE, "fraction prunable at 1 point"))


def _band(ax: Any, x: Any, rows: Any, column: str, **style: Any) -> None:
    ax.plot(x, rows[column], marker="o", ms=3, **style)
    ax.fill_between(x, rows[f"{column}:q25"], rows[f"{column}:q75"], color=style["color"], alpha=0.15, lw=0)


def figure(table: Any, width: int, settings: Sequence[tuple[str, float]], *, model: str = "fcn",
           depth: int = 2) -> Any:
    """The map at one width: three quantities against sigma, and the frontier of accuracy against prunability.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`summary` of the results (median and quartiles over seeds).
    width : int
        The width (filters of the CNN) of the network drawn.
    settings : sequence of (noise, alpha)
        The noisy settings to draw: colour by alpha (:func:`htsgd.plotting.alpha_color`), line style by
        noise type (solid type 1, dashed type 2, dotted type 3). No noise is drawn in grey in every panel.
    model, depth : str, int
        The network (:func:`network`): by default one hidden layer.

    Returns
    -------
    matplotlib.figure.Figure
        Panels (a)-(c): median over seeds against sigma (log scale) with the interquartile range shaded, no
        noise as a horizontal line and band; (d): median unpruned test accuracy against the median fraction
        prunable at one point, one curve per setting across sigma (sigma grows along the curve, its
        interquartile ranges as error bars), no noise as a star.

    Introduced in the chapter *Compressibility against accuracy*.
    """
    import matplotlib.pyplot as plt

    from .plotting import NOISE_FREE_COLOR, alpha_color

    at = table[(table["width"] == width) & (table["model"] == model) & (table["depth"] == depth)]
    free = at[at["alpha"].isna()]
    fig, axes = plt.subplots(2, 2, figsize=(7.0, 6.4), sharex=False)
    for ax, (column, label) in zip(axes.flat[:3], _PANELS, strict=True):
        for noise, alpha in settings:
            rows = at[(at["noise"] == noise) & (at["alpha"] == alpha)].sort_values("sigma")
            _band(ax, rows["sigma"], rows, column, color=alpha_color(alpha), ls=_STYLES.get(noise, "-"),
                  label=f"type {_type(noise)}, alpha {alpha:g}")
        if not free.empty:
            ax.axhline(float(free[column].iloc[0]), color=NOISE_FREE_COLOR, lw=1.2, label="no noise")
            ax.axhspan(float(free[f"{column}:q25"].iloc[0]), float(free[f"{column}:q75"].iloc[0]),
                       color=NOISE_FREE_COLOR, alpha=0.12, lw=0)
        ax.set(xscale="log", xlabel="noise level sigma", ylabel=label)
    ax = axes.flat[3]
    for noise, alpha in settings:
        rows = at[(at["noise"] == noise) & (at["alpha"] == alpha)].sort_values("sigma")
        x, y = rows[PRUNABLE], rows["test_acc"]
        ax.errorbar(x, y, xerr=[x - rows[f"{PRUNABLE}:q25"], rows[f"{PRUNABLE}:q75"] - x],
                    yerr=[y - rows["test_acc:q25"], rows["test_acc:q75"] - y], color=alpha_color(alpha),
                    ls=_STYLES.get(noise, "-"), marker="o", ms=3, lw=1, elinewidth=0.6)
    if not free.empty:
        ax.plot(free[PRUNABLE], free["test_acc"], "*", ms=12, color=NOISE_FREE_COLOR)
    ax.set(xlabel="fraction prunable at 1 point", ylabel="test accuracy, unpruned")
    for ax, letter in zip(axes.flat, "abcd", strict=True):
        ax.set_title(f"({letter})", loc="left")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3)
    return fig


#: The explanation's claims (``digits-frontier-why``): what the final neuron norms rank, and pruning the mce count of
#: neurons in other orders. Each: (name, metric as ``(a, b)`` meaning a - b, kind, words, scale).
WHY = (
    ("noise-rank", ("ranking/spearman_noise", "ranking/spearman_noise_free"), "control",
     "the final norms rank the accumulated noise more than the noise-free part (Spearman)", 1.0),
    ("free-mce", ("prune/mce0.1/noise_free/test_acc", "prune/mce0.1/test_acc"), "pruning rule",
     "pruning the smallest noise-free norms keeps more test accuracy than the smallest final norms (mce)", 100.0),
    ("largest-mce", ("prune/mce0.1/largest/test_acc", "prune/mce0.1/test_acc"), "pruning rule",
     "pruning the largest final norms keeps more test accuracy than the smallest (mce)", 100.0),
    ("mce-random", ("prune/mce0.1/test_acc", "prune/mce0.1/random/test_acc"), "pruning rule",
     "pruning the smallest final norms (mce) keeps more test accuracy than random neurons", 100.0),
)
_NET = ("model", "depth", "width")


def _noisy_settings(frame: Any) -> list[tuple]:
    grid = select(frame, role="grid")
    grid = grid[grid["alpha"].notna()]
    keys = [*_NET, "noise", "alpha", "sigma"]
    found = {tuple(r) for r in grid[keys].itertuples(index=False)}
    return sorted(found, key=lambda s: (s[0] != "fcn", s[0], int(s[1]), int(s[2]), _type(s[3]) or 0, -s[4], s[5]))


def why_claims(frame: Any) -> list[Claim]:
    """The claims of :data:`WHY` for every noisy setting of the explanation runs: one Holm family ``"why"``.

    Each compares, within one trained network and paired by seed, two of its own numbers (``a - b`` > 0
    predicted): no control group, so the interval is that of the mean difference over seeds.

    Introduced in the chapter *Compressibility against accuracy*."""
    out = []
    for model, depth, width, noise, alpha, sigma in _noisy_settings(frame):
        treated = {"role": "grid", "model": model, "depth": int(depth), "width": int(width), "noise": noise,
                   "alpha": float(alpha), "sigma": float(sigma)}
        where = (f"{network(model, int(depth))}, width {int(width)}, type {_type(noise)}, alpha {alpha:g}, "
                 f"sigma {sigma:g}")
        for name, metric, kind, words, scale in WHY:
            key = f"{name}-{model}{int(depth)}-w{int(width)}-t{_type(noise)}-a{round(alpha * 100)}-s{sigma:g}"
            out.append(Claim(key.replace(".", "p").replace("e-0", "m"), f"{where}: {words}", kind, "any noise", "why",
                             metric, treated, None, family="why", scale=scale))
    return out


def why_table(frame: Any) -> Any:
    """Medians over seeds, per noisy setting and for no noise: the mce fraction, the Spearman correlations of the
    final norms with the noise and the noise-free norms, and the test accuracy unpruned and after pruning the mce
    count of neurons by the smallest final norms (mce), the largest, the smallest noise-free norms and at random.

    Introduced in the chapter *Compressibility against accuracy*."""
    columns = {"mce fraction": MCE, "rho(noise)": "ranking/spearman_noise",
               "rho(noise-free)": "ranking/spearman_noise_free", "unpruned": "test_acc",
               "mce": "prune/mce0.1/test_acc", "largest": "prune/mce0.1/largest/test_acc",
               "noise-free": "prune/mce0.1/noise_free/test_acc", "random": "prune/mce0.1/random/test_acc"}
    keep = [*_NET, "noise", "alpha", "sigma", *columns.values()]
    grid = select(frame, role="grid")[keep].assign(noise=lambda t: t["noise"].where(t["alpha"].notna(), "none"),
                                                   sigma=lambda t: t["sigma"].where(t["alpha"].notna(), 0.0))
    grid = grid.assign(network=[network(m, int(d)) for m, d in zip(grid["model"], grid["depth"], strict=True)],
                       type=[_type(n) if n != "none" else 0 for n in grid["noise"]])
    table = grid.groupby(["network", "width", "type", "alpha", "sigma"], dropna=False)[list(columns.values())].median()
    return table.rename(columns={v: k for k, v in columns.items()})


def why_grid(assessment: Any) -> Any:
    """The verdicts of :func:`why_claims` as a grid: a row per setting, a column per claim of :data:`WHY`.

    Introduced in the chapter *Compressibility against accuracy*."""
    import pandas as pd

    rows = []
    for f in assessment:
        t = f.claim.treated
        if f.claim.family != "why":
            continue
        rows.append({"network": network(t["model"], t["depth"]), "width": t["width"], "type": _type(t["noise"]),
                     "alpha": t["alpha"], "sigma": t["sigma"],
                     "claim": next(name for name, *_ in WHY if f.claim.key.startswith(name + "-")),
                     "mark": _MARK[f.verdict]})
    if not rows:
        return pd.DataFrame()
    grid = pd.DataFrame(rows).pivot_table(index=["network", "width", "type", "alpha", "sigma"], columns="claim",
                                          values="mark", aggfunc="first")
    return grid.reindex(columns=[name for name, *_ in WHY])


def fixed_claims(frame: Any) -> list[Claim]:
    """The paper's two claims at a *fixed* noise level, for every heavy-tailed setting and sigma the table holds
    with its Gaussian counterpart: heavy tails minus Gaussian noise at the same sigma, and minus no noise, paired by
    seed; one Holm family per quantity (``"<quantity> at fixed sigma"``). Where Gaussian noise barely moves the
    accuracy, :func:`claims` finds few seeds whose accuracy crosses the target; these claims read every seed, at
    the price of comparing networks of different accuracy (the table shows it).

    Introduced in the chapter *Compressibility against accuracy*."""
    out = []
    grid = select(frame, role="grid")
    for setting in heavy_settings(frame):
        model, depth, width, noise, alpha = setting
        at = {"role": "grid", "model": model, "depth": depth, "width": width}
        rows = select(grid, **at, noise=noise)
        sigmas = sorted(set(rows.loc[rows["alpha"] == alpha, "sigma"]) & set(rows.loc[rows["alpha"] == 2.0, "sigma"]))
        for sigma in sigmas:
            treated = {**at, "noise": noise, "alpha": alpha, "sigma": float(sigma)}
            controls = {"gaussian": {**treated, "alpha": 2.0}, "none": {**at, "alpha": None}}
            for quantity, (column, words) in QUANTITIES.items():
                for comparator in COMPARATORS:
                    against = "Gaussian noise of its type at the same sigma" if comparator == "gaussian" else "no noise"
                    out.append(Claim(
                        f"fix-{_key(quantity, setting, 0, comparator).replace('-d0-', f'-s{sigma:g}-').replace('.', 'p')}",
                        f"{network(model, depth)}, width {width}, type {_type(noise)}, alpha {alpha:g}, sigma {sigma:g}: "
                        f"{words} than {against}", "paper", "heavy tails", "map", column, treated, controls[comparator],
                        family=f"{quantity} at fixed sigma"))
    return out


def fixed_grid(assessment: Any) -> Any:
    """The verdicts of :func:`fixed_claims` as a grid: a row per (network, width, type, alpha, sigma), a column per
    (quantity, comparator); each cell the verdict and the mean paired difference.

    Introduced in the chapter *Compressibility against accuracy*."""
    import pandas as pd

    rows = []
    for f in assessment:
        c = f.claim
        if not (c.family or "").endswith(" at fixed sigma"):
            continue
        t = c.treated
        rows.append({"network": network(t["model"], int(t["depth"])), "width": int(t["width"]),
                     "type": _type(t["noise"]), "alpha": float(t["alpha"]), "sigma": float(t["sigma"]),
                     "quantity": c.family.split()[0],
                     "comparator": "gaussian" if c.control.get("alpha") == 2.0 else "none",
                     "mark": _MARK[f.verdict] + (f" ({f.estimate:+.2f}, {f.n} seeds)" if f.n else " (no network trained)")})
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).pivot_table(index=["network", "width", "type", "alpha", "sigma"],
                                          columns=["quantity", "comparator"], values="mark", aggfunc="first")
