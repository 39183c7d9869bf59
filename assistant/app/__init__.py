"""What users touch: the command line, the web page and its rendering, exports, background ingest
jobs, downloads and security. Imports every room below it; nothing imports it."""
