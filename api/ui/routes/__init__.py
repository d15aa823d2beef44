"""The workbench's pages: each module parses a request, calls kyc (or ``api.ui.casework``) and renders a template."""
