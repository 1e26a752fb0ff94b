"""Committed runs that chapters read and that are too long to compute at build time.

``chaos-widths/{relu,tanh}``: the large-width propagation-of-chaos runs of the chapter *Propagation of
chaos* (``scripts/chaos_widths.py`` regenerates them; provenance in each folder). They ship with the
package so that the chapter reads them on Colab and Binder too; :func:`htsgd.chaos.load_width_runs`
finds them by name.

``digits-frontier*/``: the committed results of the compressibility-accuracy map and its companion
sweeps (``results/<sweep>/results.csv``, gzipped, with provenance), which the chapter *Compressibility
against accuracy* reads through :func:`htsgd.frontier.load`; ``scripts/ship_runs.py`` copies them here.
"""
