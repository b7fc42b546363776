'use strict';
{
    const $ = django.jQuery;

    $(function() {
        // The product filter reloads the list as soon as a product is picked or cleared.
        $('[data-rw-autosubmit]').on('change', function() {
            this.form.submit();
        });

        // Recording a restock: picking a product lists its variants with their stock, and
        // picking either says what the shop's stock shows and how many people wait.
        const stock = document.querySelector('[data-rw-stock]');
        const product = $('#id_product');
        const variant = document.getElementById('id_variant');
        if (!stock || !product.length || !variant) {
            return;
        }
        function show(text, soldOut) {
            stock.textContent = text;
            stock.classList.toggle('rw-sold-out', soldOut);
        }
        let latest = 0;  // answers to earlier picks that arrive late are dropped
        function refresh(keepVariant) {
            const asked = ++latest;
            if (!product.val()) {
                variant.replaceChildren(new Option(stock.dataset.rwAnyVariant, ''));
                show('', false);
                return;
            }
            const query = new URLSearchParams({
                product: product.val(),
                variant: keepVariant ? variant.value : ''
            });
            fetch(stock.dataset.rwItemUrl + '?' + query, {credentials: 'same-origin'})
                .then((response) => response.json())
                .then((data) => {
                    if (asked !== latest) {
                        return;
                    }
                    if (data.error) {
                        show(data.error, true);
                        return;
                    }
                    if (!keepVariant) {
                        variant.replaceChildren(...data.variants.map((v) => new Option(v.text, v.id)));
                    }
                    variant.value = data.variant;
                    show(data.stock, data.sold_out);
                });
        }
        product.on('change', () => refresh(false));
        variant.addEventListener('change', () => refresh(true));
    });
}
