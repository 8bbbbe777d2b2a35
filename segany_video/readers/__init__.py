"""Video sources: open a file, URL, pipe or image folder and read it in batches."""
