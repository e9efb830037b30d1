"""The learned ranker: features of each candidate, a LambdaMART model, its training."""
