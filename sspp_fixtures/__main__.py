"""``python -m sspp_fixtures`` runs ``sspp-seed``."""

from .cli import main

main()
