"""Committed runs that chapters read and that are too long to compute at build time.

``chaos-widths/{relu,tanh}``: the large-width propagation-of-chaos runs of the chapter *Propagation of
chaos* (``scripts/chaos_widths.py`` regenerates them; provenance in each folder). They ship with the
package so that the chapter reads them on Colab and Binder too; :func:`htsgd.chaos.load_width_runs`
finds them by name.
"""
