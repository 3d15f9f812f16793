"""`nanotui review`: the agent reviews a change (a pull request) in plan mode, and nanotui
places, checks and reports what it found."""
