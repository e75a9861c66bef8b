"""A release from main: the Bento, the model card, the registry and the steps that ship them."""
