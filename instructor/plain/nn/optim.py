"""Plain versions of helpers/nn/optim.py's graded update rules (the papers' textbook forms)."""
import numpy as np


class SGD:
    def step(self, grads):
        for name, param in self.params.items():
            direction = grads[name]
            if self.momentum:
                velocity = self.velocity[name]
                velocity[...] = self.momentum * velocity + direction
                direction = velocity
            param[...] = param - self.lr * direction


class RMSProp:
    def step(self, grads):
        for name, param in self.params.items():
            grad, square_avg = grads[name], self.square_avg[name]
            square_avg[...] = self.alpha * square_avg + (1 - self.alpha) * grad * grad
            param[...] = param - self.lr * grad / (np.sqrt(square_avg) + self.eps)


class Adam:
    def step(self, grads):
        self.t += 1
        beta1, beta2 = self.betas
        for name, param in self.params.items():
            grad, m, v = grads[name], self.m[name], self.v[name]
            m[...] = beta1 * m + (1 - beta1) * grad
            v[...] = beta2 * v + (1 - beta2) * grad * grad
            m_hat = m / (1 - beta1 ** self.t)
            v_hat = v / (1 - beta2 ** self.t)
            param[...] = param - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
