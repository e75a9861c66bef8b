"""The pull-request report: built in the pull request's job, rendered and posted by the comment job."""
