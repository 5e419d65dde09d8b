"""LoRA fine-tuning on a published dataset version (the training stage; see README "Status")."""
