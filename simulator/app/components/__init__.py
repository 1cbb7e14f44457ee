"""Reusable pieces of the app's pages: Bokeh drawings, the player, equations, URL state and messages."""
