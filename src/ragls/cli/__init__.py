"""Command line: ragls index|deps|symbols|context|complete|models|serve|demo."""
