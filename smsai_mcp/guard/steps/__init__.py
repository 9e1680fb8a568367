"""The guard's steps, one concept per module; guard/pipeline.py lists them in the order of CONTRACT section 4."""
