"""Scripts that measure speed and memory and print their figures on the last line."""
