"""Plain versions of helpers/nn/model.py's graded methods."""


class Classifier:
    def forward(self, x, training):
        caches = []
        out = x
        for layer in self.layers:
            out, cache = layer.forward(out, self.params, self.state, training)
            caches.append(cache)
        return out, caches

    def backward(self, dscores, caches):
        grads = {}
        dout = dscores
        for index in reversed(range(len(self.layers))):
            dout = self.layers[index].backward(dout, caches[index], grads, need_dx=index > 0)
        return grads
