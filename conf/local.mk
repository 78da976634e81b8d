# conf: filled in by later work
