"""The meal-prep company's catalog: dishes and store locations (business data, not personal)."""

from __future__ import annotations

BUSINESS = "Healthy Bites"

# name, description, ingredients, diet tags, allergens, calories, protein (g), price (USD)
DISHES = [
    ("Peachtree Power Bowl", "Grilled chicken over brown rice with roasted sweet potato, black beans and a smoky peach salsa.",
     ["grilled chicken", "brown rice", "sweet potato", "black beans", "peach salsa", "cilantro"], ["high-protein", "gluten-free", "dairy-free"], [], 640, 48, 13.95),
    ("Paleo Power Bowl", "Grass-fed steak strips, roasted butternut squash, kale and chimichurri.",
     ["steak", "butternut squash", "kale", "chimichurri", "pumpkin seeds"], ["paleo", "gluten-free", "dairy-free", "high-protein"], [], 590, 42, 14.95),
    ("Keto Chicken Alfredo Zoodles", "Zucchini noodles in a parmesan cream sauce with seared chicken thighs.",
     ["zucchini", "chicken thigh", "parmesan", "heavy cream", "garlic"], ["keto", "gluten-free", "low-carb", "high-protein"], ["dairy"], 610, 39, 13.50),
    ("Vegan Buddha Bowl", "Quinoa, roasted chickpeas, avocado, pickled red onion and tahini-lemon dressing.",
     ["quinoa", "chickpeas", "avocado", "red onion", "tahini", "spinach"], ["vegan", "vegetarian", "gluten-free", "dairy-free"], ["sesame"], 560, 19, 12.50),
    ("Southern Turkey Chili", "Slow-simmered lean turkey chili with kidney beans and a cornbread crumble.",
     ["ground turkey", "kidney beans", "tomato", "bell pepper", "cornbread"], ["high-protein"], ["wheat", "egg", "dairy"], 520, 41, 11.95),
    ("Salmon Teriyaki Plate", "Glazed Atlantic salmon, jasmine rice and sesame broccoli.",
     ["salmon", "jasmine rice", "broccoli", "teriyaki sauce", "sesame seeds"], ["high-protein", "dairy-free", "pescatarian"], ["fish", "soy", "sesame", "wheat"], 680, 43, 15.95),
    ("Mediterranean Falafel Wrap", "Baked falafel, hummus, cucumber-tomato salad and tzatziki in a whole wheat wrap.",
     ["falafel", "hummus", "cucumber", "tomato", "tzatziki", "whole wheat wrap"], ["vegetarian"], ["wheat", "dairy", "sesame"], 590, 22, 10.95),
    ("Keto Bacon Cheeseburger Bowl", "Grass-fed beef, bacon, cheddar, pickles and special sauce over shredded lettuce.",
     ["ground beef", "bacon", "cheddar", "lettuce", "pickles", "special sauce"], ["keto", "gluten-free", "low-carb", "high-protein"], ["dairy", "egg"], 720, 45, 13.95),
    ("Sweet Potato Black Bean Tacos", "Corn tortillas with roasted sweet potato, black beans, slaw and chipotle crema.",
     ["corn tortilla", "sweet potato", "black beans", "cabbage slaw", "cashew chipotle crema"], ["vegan", "vegetarian", "gluten-free", "dairy-free"], ["tree nuts"], 540, 14, 11.50),
    ("Lemon Herb Chicken & Veggies", "Roasted lemon-herb chicken breast with green beans and herbed potatoes.",
     ["chicken breast", "green beans", "red potatoes", "lemon", "rosemary"], ["high-protein", "gluten-free", "dairy-free", "paleo"], [], 480, 46, 12.95),
    ("Thai Peanut Noodle Bowl", "Rice noodles, tofu, crunchy vegetables and a spicy peanut sauce.",
     ["rice noodles", "tofu", "carrot", "red cabbage", "peanut sauce", "lime"], ["vegan", "vegetarian", "dairy-free"], ["peanuts", "soy"], 650, 24, 12.50),
    ("Shrimp & Grits", "Cajun shrimp over stone-ground cheddar grits with sauteed peppers.",
     ["shrimp", "stone-ground grits", "cheddar", "bell pepper", "cajun spice"], ["high-protein", "gluten-free", "pescatarian"], ["shellfish", "dairy"], 630, 35, 14.50),
    ("Greek Chicken Souvlaki Bowl", "Marinated chicken, lemon orzo, feta, olives and cucumber.",
     ["chicken", "orzo", "feta", "kalamata olives", "cucumber", "red onion"], ["high-protein"], ["wheat", "dairy"], 610, 44, 13.50),
    ("Cauliflower Fried Rice", "Cauliflower rice stir-fried with egg, peas, carrots and tamari.",
     ["cauliflower rice", "egg", "peas", "carrot", "tamari", "scallion"], ["keto", "vegetarian", "gluten-free", "dairy-free", "low-carb"], ["egg", "soy"], 330, 15, 10.50),
    ("BBQ Pulled Pork & Slaw", "Hickory-smoked pulled pork, vinegar slaw and mac and cheese.",
     ["pulled pork", "bbq sauce", "cabbage slaw", "macaroni", "cheddar"], ["high-protein"], ["wheat", "dairy"], 780, 40, 13.95),
    ("Overnight Oats - Peach Cobbler", "Rolled oats soaked in almond milk with Georgia peaches, cinnamon and pecans.",
     ["rolled oats", "almond milk", "peaches", "cinnamon", "pecans", "chia seeds"], ["vegan", "vegetarian", "dairy-free"], ["tree nuts"], 390, 11, 6.95),
    ("Egg White Breakfast Burrito", "Egg whites, turkey sausage, peppers and pepper jack in a whole wheat tortilla.",
     ["egg whites", "turkey sausage", "bell pepper", "pepper jack", "whole wheat tortilla"], ["high-protein"], ["egg", "dairy", "wheat"], 420, 32, 8.95),
    ("Keto Salmon Caesar", "Grilled salmon over romaine with parmesan crisps and Caesar dressing, no croutons.",
     ["salmon", "romaine", "parmesan", "caesar dressing", "lemon"], ["keto", "gluten-free", "low-carb", "high-protein", "pescatarian"], ["fish", "dairy", "egg"], 560, 38, 15.50),
    ("Lentil Shepherd's Pie", "Hearty lentil and vegetable stew under a mashed cauliflower-potato top.",
     ["lentils", "carrot", "celery", "mushroom", "potato", "cauliflower"], ["vegan", "vegetarian", "gluten-free", "dairy-free"], [], 470, 21, 11.95),
    ("Jerk Chicken & Plantains", "Jamaican jerk chicken thighs with coconut rice and sweet plantains.",
     ["chicken thigh", "jerk marinade", "coconut rice", "plantains", "black beans"], ["high-protein", "gluten-free", "dairy-free"], [], 700, 42, 13.95),
    ("Turkey Meatball Marinara", "Turkey meatballs in marinara over whole wheat penne with a side of garlic spinach.",
     ["turkey meatballs", "marinara", "whole wheat penne", "spinach", "parmesan"], ["high-protein"], ["wheat", "egg", "dairy"], 650, 43, 12.95),
    ("Tofu Scramble Bowl", "Turmeric tofu scramble with black beans, roasted potatoes and salsa verde.",
     ["tofu", "turmeric", "black beans", "potatoes", "salsa verde"], ["vegan", "vegetarian", "gluten-free", "dairy-free"], ["soy"], 440, 23, 9.95),
    ("Steak & Sweet Potato Mash", "Sirloin with cinnamon sweet potato mash and charred asparagus.",
     ["sirloin steak", "sweet potato", "asparagus", "olive oil", "cinnamon"], ["paleo", "gluten-free", "dairy-free", "high-protein"], [], 610, 47, 16.50),
    ("Chicken Pesto Pasta", "Penne tossed in basil pesto with grilled chicken and sun-dried tomatoes.",
     ["penne", "basil pesto", "chicken", "sun-dried tomatoes", "parmesan", "pine nuts"], ["high-protein"], ["wheat", "dairy", "tree nuts"], 720, 45, 12.95),
    ("Keto Egg Roll in a Bowl", "Ground pork and cabbage stir-fry with ginger, garlic and sriracha mayo.",
     ["ground pork", "cabbage", "carrot", "ginger", "sriracha mayo"], ["keto", "gluten-free", "dairy-free", "low-carb"], ["egg", "soy"], 480, 28, 11.50),
    ("Quinoa Stuffed Peppers", "Bell peppers stuffed with quinoa, black beans, corn and a cashew queso.",
     ["bell peppers", "quinoa", "black beans", "corn", "cashew queso"], ["vegan", "vegetarian", "gluten-free", "dairy-free"], ["tree nuts"], 420, 16, 11.95),
    ("Protein Pancake Stack", "Oat-protein pancakes with Greek yogurt, berries and a drizzle of honey.",
     ["oat flour", "whey protein", "egg", "greek yogurt", "blueberries", "honey"], ["vegetarian", "high-protein"], ["dairy", "egg"], 510, 36, 8.95),
    ("Blackened Tilapia Tacos", "Blackened tilapia in corn tortillas with mango salsa and lime crema.",
     ["tilapia", "corn tortilla", "mango salsa", "lime crema", "cabbage"], ["gluten-free", "pescatarian", "high-protein"], ["fish", "dairy"], 520, 34, 12.95),
    ("Vegan Chocolate Protein Bites", "Six no-bake bites of dates, cocoa, pea protein and almond butter.",
     ["dates", "cocoa", "pea protein", "almond butter", "oats"], ["vegan", "vegetarian", "dairy-free", "gluten-free"], ["tree nuts"], 310, 15, 5.95),
]

STORES = [
    ("Midtown", "1075 West Peachtree Street NW", "Atlanta", "GA", "30309", "(404) 876-2210", "Mon-Sat 7am-8pm, Sun 9am-5pm"),
    ("Decatur", "315 West Ponce de Leon Avenue", "Decatur", "GA", "30030", "(404) 377-4180", "Mon-Sat 7am-8pm, Sun 9am-5pm"),
    ("Buckhead", "3035 Peachtree Road NE", "Atlanta", "GA", "30305", "(404) 264-9010", "Mon-Sun 7am-9pm"),
    ("Old Fourth Ward", "675 Ponce de Leon Avenue NE", "Atlanta", "GA", "30308", "(404) 549-3305", "Mon-Fri 8am-8pm, Sat-Sun 9am-6pm"),
]


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-").replace("--", "-")


def menu_document() -> dict:
    return {
        "business": BUSINESS,
        "currency": "USD",
        "dishes": [
            {
                "id": slug(name),
                "name": name,
                "description": description,
                "ingredients": ingredients,
                "diet_tags": tags,
                "allergens": allergens,
                "calories": calories,
                "protein_g": protein,
                "price": price,
            }
            for name, description, ingredients, tags, allergens, calories, protein, price in DISHES
        ],
    }


def stores_document() -> dict:
    return {
        "business": BUSINESS,
        "stores": [
            {
                "id": slug(name),
                "name": f"{BUSINESS} {name}",
                "address": street,
                "city": city,
                "state": state,
                "zip": zip_code,
                "phone": phone,
                "hours": hours,
            }
            for name, street, city, state, zip_code, phone, hours in STORES
        ],
    }
