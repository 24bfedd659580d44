"""What editors and readers look at: takes built or sent issues and gives the preview files, the
live preview server, and the web archive with its Atom feed."""
