"""What every part shares: settings, paths, errors, file and git helpers, tracking. Imports no other part."""
