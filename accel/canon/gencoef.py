from fractions import Fraction as F
from math import factorial
import decimal
# Bernoulli numbers
def bern(n):
    A=[0]*(n+1)
    B=[]
    for m in range(n+1):
        A[m]=F(1,m+1)
        for j in range(m,0,-1):
            A[j-1]=j*(A[j-1]-A[j])
        B.append(A[0])
    return B  # B1=+1/2 convention, irrelevant for even
Bn=bern(80)
def g(name, vals):
    print("var %s = [...]float64{" % name)
    for v in vals:
        print("\t%r," % float(v))
    print("}\n")
# exp: 1/k! k=0..13
g("expCoef", [F(1,factorial(k)) for k in range(14)])
# log: atanh series coefficients for z^n: 1/(2n+1), n=0..11
g("logCoef", [F(1,2*n+1) for n in range(12)])
# tanh: x * sum c_n x^{2n}; tanh x = sum_{n>=1} 2^{2n}(2^{2n}-1)B_{2n} x^{2n-1}/(2n)!
g("tanhCoef", [F(2**(2*n)*(2**(2*n)-1))*Bn[2*n]/factorial(2*n) for n in range(1,19)])
# erf: x * sum c_n x^{2n}: c_n = (-1)^n /(n! (2n+1)) (times 2/sqrt(pi) applied separately)
def erfc_(N): return [F((-1)**n, factorial(n)*(2*n+1)) for n in range(N)]
g("erfCoef", erfc_(72))
decimal.getcontext().prec=50
# sin: x * sum c_n x^{2n}, c_n = (-1)^n/(2n+1)!; cos: sum c_n x^{2n}, c_n = (-1)^n/(2n)!
g("sinCoef", [F((-1)**n, factorial(2*n+1)) for n in range(11)])
g("cosCoef", [F((-1)**n, factorial(2*n)) for n in range(11)])
