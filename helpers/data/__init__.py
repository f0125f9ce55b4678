"""Layer 3: the data sets (CIFAR-10, MNIST), their download, decoding and subsets."""
