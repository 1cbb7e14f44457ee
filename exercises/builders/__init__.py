"""Content of the course's notebooks, one module per assignment; ``build_notebooks.py`` writes them."""
