"""idle_conns.py: placeholder."""
