# src: filled in by later work
