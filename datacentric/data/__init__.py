"""Images and labels in: reading image files (:mod:`.images`) and importing folders and CSVs (:mod:`.importers`)."""
