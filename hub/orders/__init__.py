"""Orders: intake, the life-cycle actions, validation, payments and shipments recorded against them, and how they are shown."""
