"""Layer 6, notebook support: a notebook's setup and saves (``run``), its plots, the live library
source it shows, and the Colab install. Nothing below imports it."""
