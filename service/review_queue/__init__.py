"""The verifiers' queue: incidents waiting for a verdict, each with its reports and its
likely duplicates. A package of its own because it reads both incidents and reports (the
incident package never imports the report package)."""
