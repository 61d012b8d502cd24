"""Layer 1, core: what every other layer stands on and nothing project-specific.

Errors shown to users, escaping for every output language, atomic files, input
guards, slugs, project paths, provenance (the one hash recipe) and the build
folder's layout. Imports nothing from the other layers.
"""
