"""Array-expression update rules."""
import numpy as np


class SGD:
    def step(self, grads):
        for key in self.params:
            update = grads[key]
            if self.momentum != 0:
                np.multiply(self.velocity[key], self.momentum, out=self.velocity[key])
                np.add(self.velocity[key], update, out=self.velocity[key])
                update = self.velocity[key]
            np.subtract(self.params[key], self.lr * update, out=self.params[key])


class RMSProp:
    def step(self, grads):
        for key in self.params:
            g = grads[key]
            cache = self.square_avg[key]
            cache *= self.alpha
            cache += (1.0 - self.alpha) * np.square(g)
            self.params[key] -= self.lr * g / (np.sqrt(cache) + self.eps)
