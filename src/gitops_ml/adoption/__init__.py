"""A project's life beside its template: its start after ``copier copy``, the adoption of a copy made with GitHub's
"Use this template", and the pull request that brings the template's later releases."""
