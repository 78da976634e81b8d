# doc: filled in by later work
