"""Reading plans: the corpus folder, text cleaning and the layout-family parsers."""
