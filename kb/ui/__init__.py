"""The Gradio app's presentation layer: URL state, HTML cards, the search service, the layout.

Only :mod:`kb.ui.blocks` imports gradio; the other modules are plain functions over
``kb.search.searcher`` results so they can be unit-tested without a browser or a server.
Nothing here ranks or filters chunks: the app calls :meth:`kb.search.searcher.Searcher.search`.
"""
