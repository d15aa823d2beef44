"""HTTP routers; ``api/app.py`` includes them."""
