"""The ``kyc`` command line. It sits above every package (kyc, lists, workers, api) and only orchestrates."""
