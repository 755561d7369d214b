"""One plotting module per figure; figures are pure functions of saved result records."""
